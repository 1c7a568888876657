"""A record's payload is validated with its provider's model only when a handler of the event takes `Event[Model]`;
other handlers get the plain JSON, parsed when first read. The envelope is checked for every record."""

from __future__ import annotations

import dataclasses
import json
from datetime import UTC, datetime
from typing import Any

import orjson
from prometheus_client import CollectorRegistry

from consumers import Context, Event, Registry
from consumers.decoding import Decoded, Invalid, decode
from consumers.metrics import ConsumerMetrics
from consumers.runner import HandlerRunner
from schemas import Envelope, encode_envelope
from schemas.github import GitHubEvent
from schemas.topics import GroupTopics
from tests.fakes import FetchedRecord

ROUTE = GroupTopics.for_provider("github", "g")
PAYLOAD = {"action": "opened", "sender": {"login": "octocat", "id": 1}, "number": 123456789012345678901234567890}
# `sender.id` must be an integer for the GitHub model; plain JSON takes it as it is.
NOT_A_GITHUB_PAYLOAD = {"action": "opened", "sender": {"login": "octocat", "id": "one"}}


def record(payload: object) -> FetchedRecord:
    # The payload's JSON as sent, the 30-digit integer exact.
    fields: dict[str, Any] = {"id": "evt_1", "source": "github", "provider": "github", "type": "issues", "headers": {}}
    value = encode_envelope(
        **fields, received_at=datetime.now(UTC), occurred_at=None, payload_json=json.dumps(payload).encode()
    )
    return FetchedRecord(ROUTE.topic, 0, 7, b"evt_1", value)


async def typed(event: Event[GitHubEvent], context: Context) -> None:
    return None


async def plain(event: Event[Any], context: Context) -> None:
    return None


def registry_of(*handlers: Any) -> Registry[Any]:
    registry: Registry[Any] = Registry()
    for handler in handlers:
        registry.add("github", "*", handler)
    return registry


def test_a_typed_handler_gets_the_payload_validated_and_an_invalid_one_is_refused_before_it_runs() -> None:
    registry = registry_of(typed)
    decoded = decode(record(PAYLOAD), ROUTE, "g", 1, registry)
    assert isinstance(decoded, Decoded)
    assert isinstance(decoded.event.typed().payload, GitHubEvent)
    assert decoded.event.typed().payload.sender is not None

    invalid = decode(record(NOT_A_GITHUB_PAYLOAD), ROUTE, "g", 1, registry)
    assert isinstance(invalid, Invalid)
    assert str(invalid.reason) == (
        "invalid github payload: payload.sender.id: Input should be a valid integer, unable to parse string as an "
        "integer"
    )


def test_a_handler_of_plain_json_gets_the_payload_as_sent_never_validated() -> None:
    registry = registry_of(plain)
    decoded = decode(record(NOT_A_GITHUB_PAYLOAD), ROUTE, "g", 1, registry)
    assert isinstance(decoded, Decoded)
    event = decoded.event
    assert event.typed() is event
    assert event.payload == NOT_A_GITHUB_PAYLOAD
    exact = decode(record(PAYLOAD), ROUTE, "g", 1, registry)
    assert isinstance(exact, Decoded)
    assert exact.event.payload["number"] == 123456789012345678901234567890
    assert exact.event.envelope == Envelope.from_bytes(exact.record.value or b"")
    assert (exact.event.id, exact.event.provider, exact.event.type, exact.event.scoped_id) == (
        "evt_1",
        "github",
        "issues",
        "evt_1",
    )


def test_no_valid_envelope_is_refused_whatever_the_handlers_take() -> None:
    for registry in (registry_of(typed), registry_of(plain), Registry()):
        value = orjson.loads(record(PAYLOAD).value or b"")
        del value["received_at"]
        invalid = decode(FetchedRecord(ROUTE.topic, 0, 7, b"evt_1", orjson.dumps(value)), ROUTE, "g", 1, registry)
        assert isinstance(invalid, Invalid)
        assert str(invalid.reason) == "no valid envelope: received_at: Field required"


async def test_each_handler_of_one_event_gets_the_payload_as_it_takes_it() -> None:
    seen: dict[str, object] = {}

    async def validated(event: Event[GitHubEvent], context: Context) -> None:
        seen["validated"] = event.payload

    async def raw(event: Event[object], context: Context) -> None:
        seen["raw"] = event.payload

    registry = registry_of(validated, raw)
    decoded = decode(record(PAYLOAD), ROUTE, "g", 1, registry)
    assert isinstance(decoded, Decoded)
    runner = HandlerRunner(
        registry, ConsumerMetrics(CollectorRegistry()), group="g", timeout_s=5, max_attempts=3, concurrency=4
    )
    runs = await runner.run(decoded.event, registry.handlers, attempt=1)

    assert not runs.failed
    assert isinstance(seen["validated"], GitHubEvent)
    assert seen["raw"] == PAYLOAD


def test_the_first_of_a_repeated_header_is_the_one_read() -> None:
    # A binary-mode envelope whose record names its content type and trace context twice: the first ones count.
    first = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
    headers = [
        ("content-type", b"application/json"),
        ("traceparent", first.encode()),
        ("content-type", b"application/cloudevents+json"),
        ("traceparent", b"00-11111111111111111111111111111111-2222222222222222-01"),
    ]
    item = decode(dataclasses.replace(record(PAYLOAD), headers=headers), ROUTE, "g", 1, Registry())

    assert isinstance(item, Decoded)
    assert item.event.traceparent == first
