"""The webhook route's OpenAPI responses are the receiver's refusals, read from its error classes."""

from __future__ import annotations

from typing import Any

from prometheus_client import CollectorRegistry

from receiver import errors
from receiver.app import create_app
from receiver.settings import ReceiverSettings
from receiver.sources import load_sources
from tests.fakes import RecordingPublisher


def webhook_responses() -> dict[str, Any]:
    app = create_app(
        ReceiverSettings(),
        sources=load_sources({"WEBHOOK_SECRET_HMAC": "k"}, sources_file=None, tolerance_s=300),
        publisher=RecordingPublisher(),
        registry=CollectorRegistry(),
    )
    responses: dict[str, Any] = app.api.openapi()["paths"]["/webhooks/{source}"]["post"]["responses"]
    return responses


def refusals() -> set[tuple[int, str]]:
    found, todo = set(), [errors.RequestError]
    while todo:
        cls = todo.pop()
        found.add((cls.status_code, cls.code))
        todo += cls.__subclasses__()
    return found


def test_every_refusal_of_the_error_tree_is_documented_with_its_code() -> None:
    responses = webhook_responses()

    documented = {
        (int(status), code)
        for status, response in responses.items()
        if status != "202"
        for code in response["content"]["application/json"]["schema"]["properties"]["error"]["enum"]
    }
    assert documented == refusals()
    # A handshake naming another verify token; and a method the route answers itself.
    assert {(403, "forbidden"), (405, "method_not_allowed")} <= documented


def test_each_status_is_described_by_its_error_class() -> None:
    responses = webhook_responses()

    assert responses["413"]["description"] == "The body is over WEBHOOK_MAX_BODY_BYTES."
    # Two codes under one status: both classes' words, the subclasses sharing a code adding none.
    assert responses["401"]["description"] == (
        "The signature is missing, malformed or matches none of the source's secrets. "
        "The signed timestamp is outside the tolerance (WEBHOOK_TOLERANCE_SECONDS), in the past or the future."
    )
