"""Record headers and values as CloudEvents, read back with the `cloudevents` SDK's Kafka binding.

The SDK is an implementation we did not write: what it reads from our headers is what Dapr, Knative or
any CloudEvents consumer reads. The integration test (`tests/integration/test_cloudevents_kafka.py`) does
the same with records the real receiver wrote to the real broker.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from cloudevents.core.bindings import kafka as ce_kafka
from cloudevents.core.formats.json import JSONFormat
from pydantic import ValidationError

from schemas.envelope import Envelope, encode_envelope
from schemas.records import (
    CLOUDEVENTS_HEADERS,
    RecordFormat,
    cloudevent_source,
    cloudevent_type,
    envelope_of,
    missing_headers,
)

TRACEPARENT = b"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
OCCURRED = datetime(2026, 11, 30, 12, 0, 1, 500000, tzinfo=UTC)
RECEIVED = datetime(2026, 11, 30, 12, 0, 2, tzinfo=UTC)


def envelope_bytes(type: str = "pull_request.opened") -> bytes:
    return encode_envelope(
        id="del-1",
        source="github-acme",
        provider="github",
        type=type,
        received_at=RECEIVED,
        occurred_at=OCCURRED,
        payload_json=b'{"action":"opened","number":7}',
        headers={"x-github-event": "pull_request"},
    )


def test_binary_mode_headers_read_back_by_the_cloudevents_sdk() -> None:
    record = RecordFormat("github-acme", "github")
    headers = record.headers(
        id="del-1", type="pull_request.opened", time=OCCURRED, subject="acme/api", traceparent=TRACEPARENT
    )
    value = record.value(envelope_bytes(), id="del-1", type="pull_request.opened", time=OCCURRED)
    message = ce_kafka.KafkaMessage(headers=dict(headers), key=b"del-1", value=value)

    event = ce_kafka.from_binary(message, JSONFormat())

    assert event.get_specversion() == "1.0"
    assert event.get_id() == "del-1"
    assert event.get_source() == "urn:webhooks:github-acme"
    assert event.get_type() == "github.pull_request.opened"
    assert event.get_time() == OCCURRED
    assert event.get_subject() == "acme/api"
    assert event.get_datacontenttype() == "application/json"
    assert event.get_extension("traceparent") == TRACEPARENT.decode()
    assert event.get_extension("partitionkey") == "del-1"
    # The data is our envelope, unchanged: every reader of the envelope keeps working.
    assert value == envelope_bytes()
    assert Envelope.model_validate(event.get_data()) == Envelope.from_bytes(value)
    assert dict(headers)["traceparent"] == TRACEPARENT


def test_structured_mode_value_read_back_by_the_cloudevents_sdk() -> None:
    record = RecordFormat("github-acme", "github", mode="structured")
    headers = record.headers(id="del-1", type="pull_request.opened", time=OCCURRED, subject="acme/api")
    value = record.value(envelope_bytes(), id="del-1", type="pull_request.opened", time=OCCURRED, subject="acme/api")

    event = ce_kafka.from_structured(
        ce_kafka.KafkaMessage(headers=dict(headers), key=b"del-1", value=value), JSONFormat()
    )

    assert dict(headers)["content-type"] == b"application/cloudevents+json"
    assert not {name for name, _ in headers if name.startswith("ce_")}
    assert (event.get_id(), event.get_source(), event.get_type()) == (
        "del-1",
        "urn:webhooks:github-acme",
        "github.pull_request.opened",
    )
    assert (event.get_time(), event.get_subject()) == (OCCURRED, "acme/api")
    assert Envelope.model_validate(event.get_data()) == Envelope.from_bytes(envelope_bytes())
    assert envelope_of(value, "application/cloudevents+json") == Envelope.from_bytes(envelope_bytes())


def test_an_event_without_a_type_or_subject_still_is_a_valid_cloudevent() -> None:
    headers = dict(RecordFormat("acme", "hmac").headers(id="a-1", type="", time=RECEIVED))
    event = ce_kafka.from_binary(ce_kafka.KafkaMessage(headers=headers, key=b"a-1", value=b"{}"), JSONFormat())
    assert event.get_type() == "hmac"
    assert event.get_subject() is None
    assert "ce_subject" not in headers
    assert "ce_traceparent" not in headers
    assert headers["ce_time"] == b"2026-11-30T12:00:02Z"


def test_names_of_source_and_type() -> None:
    assert cloudevent_source("stripe-eu") == "urn:webhooks:stripe-eu"
    assert cloudevent_type("stripe", "payment_intent.succeeded") == "stripe.payment_intent.succeeded"
    assert cloudevent_type("hmac", "") == "hmac"


def test_missing_headers_complete_a_bare_record_from_its_envelope() -> None:
    envelope = Envelope.from_bytes(envelope_bytes())
    present = [("webhook-id", b"del-1"), ("traceparent", TRACEPARENT)]
    added = dict(missing_headers(present, envelope))
    assert "webhook-id" not in added
    assert added["ce_id"] == b"del-1"
    assert added["ce_time"] == b"2026-11-30T12:00:01.500000Z"
    assert added["ce_traceparent"] == TRACEPARENT
    assert added["webhook-provider"] == b"github"


def test_missing_headers_keep_a_record_that_carries_cloudevents_headers_as_it_is() -> None:
    envelope = Envelope.from_bytes(envelope_bytes())
    written = RecordFormat("github-acme", "github").headers(
        id="del-1", type="pull_request.opened", time=OCCURRED, subject="acme/api"
    )
    assert missing_headers(written, envelope) == []
    structured = RecordFormat("github-acme", "github", mode="structured").headers(
        id="del-1", type="pull_request.opened", time=OCCURRED
    )
    assert missing_headers(structured, envelope) == []
    assert {"ce_id", "content-type"} <= CLOUDEVENTS_HEADERS


@pytest.mark.parametrize(
    "value", [b"not json", b"[]", b'{"specversion":"1.0"}', b'{"data":{"id":"x"}}', b'{"data":"text"}']
)
def test_a_structured_value_without_an_envelope_is_a_validation_error(value: bytes) -> None:
    with pytest.raises(ValidationError):
        envelope_of(value, "application/cloudevents+json")
