"""Every row of the status table of docs/contract.md, through the real ASGI app with an in-memory publisher.

The publisher double only records what it was given (the broker itself is exercised by the integration
tests): each refusal must leave it empty.
"""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator, Callable

import httpx
import orjson
import pytest
from prometheus_client import CollectorRegistry

from receiver.app import create_app
from receiver.settings import ReceiverSettings
from receiver.sources import load_sources
from schemas import Envelope
from schemas.records import RecordFormat
from tests.fakes import RecordingPublisher
from tests.signing import github_headers, hmac_headers, stripe_headers

SECRETS = {"WEBHOOK_SECRET_HMAC": "dev-secret", "WEBHOOK_SECRET_GITHUB": "gh", "WEBHOOK_SECRET_STRIPE": "whsec_s"}
MAX_BODY = 4096


@pytest.fixture
async def client(publisher: RecordingPublisher, registry: CollectorRegistry) -> AsyncIterator[httpx.AsyncClient]:
    settings = ReceiverSettings(max_body_bytes=MAX_BODY, retry_after_s=7)
    sources = load_sources(SECRETS, sources_file=None, tolerance_s=300)
    app = create_app(settings, sources=sources, publisher=publisher, registry=registry)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as http:
        yield http


def received(registry: CollectorRegistry, source: str, outcome: str) -> float:
    # A path that names no source is counted as source "unknown": senders must not create label values.
    source = source if source in {"hmac", "github", "stripe"} else "unknown"
    labels = {"source": source, "provider": source, "outcome": outcome}
    return registry.get_sample_value("webhooks_received_total", labels) or 0.0


async def test_signed_event_is_published_as_an_envelope(
    client: httpx.AsyncClient, publisher: RecordingPublisher, registry: CollectorRegistry
) -> None:
    body = b'{"id":"evt-1","type":"order.created","amount":12}'
    response = await client.post("/webhooks/hmac", content=body, headers=hmac_headers(body, "dev-secret"))
    assert (response.status_code, response.json()) == (202, {"status": "accepted", "id": "evt-1"})
    [(topic, key, value, headers)] = publisher.records
    assert (topic, key) == ("webhooks.hmac", b"evt-1")
    envelope = Envelope.from_bytes(value)
    # No provider time in this body: the CloudEvents time is the receive time.
    expected = RecordFormat("hmac", "hmac").headers(id="evt-1", type="order.created", time=envelope.received_at)
    assert headers == expected
    assert {name: value for name, value in headers if not name.startswith("ce_")} == {
        "webhook-id": b"evt-1",
        "webhook-provider": b"hmac",
        "webhook-source": b"hmac",
        "webhook-type": b"order.created",
        "content-type": b"application/json",
    }
    assert (envelope.id, envelope.type, envelope.payload["amount"]) == ("evt-1", "order.created", 12)
    assert received(registry, "hmac", "accepted") == 1


@pytest.mark.parametrize(
    ("source", "body", "headers", "status", "error", "outcome"),
    [
        ("nope", b"{}", {}, 404, "unknown_source", "unknown_source"),
        ("hmac", b'{"id":"a"}', {}, 401, "invalid_signature", "invalid_signature"),
        ("hmac", b'{"id":"a"}', {"x-signature-256": "sha256=zz"}, 401, "invalid_signature", "invalid_signature"),
        ("hmac", b'{"id":"a"}', {"x-signature-256": "md5=00"}, 401, "invalid_signature", "invalid_signature"),
        ("hmac", b'{"id":"a"}', hmac_headers(b'{"id":"a"}', "wrong"), 401, "invalid_signature", "invalid_signature"),
        (
            "hmac",
            b'{"id":"b"}',
            hmac_headers(b'{"id":"a"}', "dev-secret"),
            401,
            "invalid_signature",
            "invalid_signature",
        ),
        ("hmac", b"", hmac_headers(b"", "dev-secret"), 400, "bad_request", "bad_request"),
        ("hmac", b"\xff\xfe\x00", hmac_headers(b"\xff\xfe\x00", "dev-secret"), 400, "bad_request", "bad_request"),
        ("hmac", b'{"id":', hmac_headers(b'{"id":', "dev-secret"), 400, "bad_request", "bad_request"),
        (
            "hmac",
            b"a=1",
            {**hmac_headers(b"a=1", "dev-secret"), "content-type": "application/x-www-form-urlencoded"},
            415,
            "unsupported_media_type",
            "bad_request",
        ),
        (
            "hmac",
            b"x" * (MAX_BODY + 1),
            hmac_headers(b"x" * (MAX_BODY + 1), "dev-secret"),
            413,
            "too_large",
            "too_large",
        ),
        (
            "github",
            b'{"a":1}',
            {"x-hub-signature-256": "sha256=" + "0" * 64, "x-github-event": "push"},
            401,
            "invalid_signature",
            "invalid_signature",
        ),
        (
            "stripe",
            b'{"id":"evt_1"}',
            stripe_headers(b'{"id":"evt_1"}', "whsec_s", timestamp=int(time.time()) - 3600),
            401,
            "stale_timestamp",
            "stale_timestamp",
        ),
        (
            "stripe",
            b'{"id":"evt_1"}',
            stripe_headers(b'{"id":"evt_1"}', "whsec_s", timestamp=int(time.time()) + 3600),
            401,
            "stale_timestamp",
            "stale_timestamp",
        ),
        # Signed when the test runs (a lambda): signed at collection, a long run would age it past the window.
        (
            "stripe",
            b'{"type":"x"}',
            lambda: stripe_headers(b'{"type":"x"}', "whsec_s"),
            400,
            "bad_request",
            "bad_request",
        ),
        (
            "stripe",
            b'{"id":"evt_1"}',
            {"stripe-signature": "t=notanumber,v1=00"},
            401,
            "invalid_signature",
            "invalid_signature",
        ),
    ],
)
async def test_refusals_get_their_status_and_publish_nothing(
    client: httpx.AsyncClient,
    publisher: RecordingPublisher,
    registry: CollectorRegistry,
    source: str,
    body: bytes,
    headers: dict[str, str] | Callable[[], dict[str, str]],
    status: int,
    error: str,
    outcome: str,
) -> None:
    headers = headers() if callable(headers) else headers
    response = await client.post(f"/webhooks/{source}", content=body, headers=headers)
    assert (response.status_code, response.json()) == (status, {"error": error})
    assert publisher.records == []
    assert received(registry, source, outcome) == 1


async def test_disabled_built_in_source_is_unknown(registry: CollectorRegistry, publisher: RecordingPublisher) -> None:
    sources = load_sources({"WEBHOOK_SECRET_HMAC": "k"}, sources_file=None, tolerance_s=300)
    app = create_app(ReceiverSettings(), sources=sources, publisher=publisher, registry=registry)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as http:
        response = await http.post("/webhooks/github", content=b"{}")
    assert (response.status_code, response.json()) == (404, {"error": "unknown_source"})


async def test_declared_length_over_the_limit_is_refused_before_reading(client: httpx.AsyncClient) -> None:
    body = b"{}"
    headers = {**hmac_headers(body, "dev-secret"), "content-length": str(MAX_BODY * 10)}

    async def never_sent() -> AsyncIterator[bytes]:
        yield body

    response = await client.post("/webhooks/hmac", content=never_sent(), headers=headers)
    assert response.status_code == 413


async def test_kafka_unavailable_is_503_with_retry_after(
    client: httpx.AsyncClient, publisher: RecordingPublisher, registry: CollectorRegistry
) -> None:
    publisher.failing = True
    body = b'{"id":"evt-2"}'
    response = await client.post("/webhooks/hmac", content=body, headers=hmac_headers(body, "dev-secret"))
    assert (response.status_code, response.json()) == (503, {"error": "unavailable"})
    assert response.headers["retry-after"] == "7"
    assert received(registry, "hmac", "unavailable") == 1


async def test_only_post(client: httpx.AsyncClient) -> None:
    response = await client.get("/webhooks/hmac")
    assert (response.status_code, response.headers["allow"]) == (405, "POST")


async def test_github_and_stripe_signed_by_their_rules_are_accepted(
    client: httpx.AsyncClient, publisher: RecordingPublisher
) -> None:
    github_body = b'{"action":"opened","issue":{"number":1}}'
    response = await client.post(
        "/webhooks/github", content=github_body, headers=github_headers(github_body, "gh", "issues", "del-1")
    )
    assert response.json() == {"status": "accepted", "id": "del-1"}
    stripe_body = orjson.dumps({"id": "evt_9", "object": "event", "type": "charge.succeeded", "created": 1})
    response = await client.post(
        "/webhooks/stripe", content=stripe_body, headers=stripe_headers(stripe_body, "whsec_s")
    )
    assert response.json() == {"status": "accepted", "id": "evt_9"}
    assert [(topic, key) for topic, key, _, _ in publisher.records] == [
        ("webhooks.github", b"del-1"),
        ("webhooks.stripe", b"evt_9"),
    ]
    assert Envelope.from_bytes(publisher.records[0][2]).type == "issues.opened"


async def test_health_readiness_metrics_and_docs(client: httpx.AsyncClient, publisher: RecordingPublisher) -> None:
    assert (await client.get("/healthz")).json() == {"status": "ok"}
    assert (await client.get("/readyz")).status_code == 200
    publisher.ready = False
    assert (await client.get("/readyz")).status_code == 503
    assert "webhooks_request_duration_seconds" in (await client.get("/metrics")).text
    spec = (await client.get("/openapi.json")).json()
    assert set(spec["paths"]["/webhooks/{source}"]["post"]["responses"]) >= {"202", "401", "404", "413", "503"}


TRACEPARENT = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"


@pytest.mark.parametrize(
    ("sent", "published"),
    [
        (TRACEPARENT, TRACEPARENT),
        (None, None),
        ("00-00000000000000000000000000000000-00f067aa0ba902b7-01", None),  # all-zero trace id
        ("00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01", None),  # all-zero parent id
        ("ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", None),  # version ff
        ("00-4BF92F3577B34DA6A3CE929D0E0E4736-00F067AA0BA902B7-01", None),  # upper case
        ("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra", None),
        ("not-a-traceparent", None),
    ],
)
async def test_a_valid_traceparent_travels_as_a_record_header(
    client: httpx.AsyncClient, publisher: RecordingPublisher, sent: str | None, published: str | None
) -> None:
    body = b'{"id":"evt-trace","type":"t"}'
    headers = hmac_headers(body, "dev-secret")
    if sent is not None:
        headers["traceparent"] = sent
    response = await client.post("/webhooks/hmac", content=body, headers=headers)
    assert response.status_code == 202
    [(_, _, _, record_headers)] = publisher.records
    assert dict(record_headers).get("traceparent") == (published.encode() if published else None)
    # The CloudEvents distributed-tracing extension carries the same value.
    assert dict(record_headers).get("ce_traceparent") == (published.encode() if published else None)


async def test_one_log_line_per_request_with_the_event_and_never_the_body(
    client: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="receiver.requests")
    body = b'{"id":"evt-log","type":"order.created","card":"4242-secret-body"}'
    await client.post("/webhooks/hmac", content=body, headers=hmac_headers(body, "dev-secret"))
    await client.post("/webhooks/hmac", content=body, headers=hmac_headers(body, "wrong"))
    lines = [r for r in caplog.records if r.name == "receiver.requests"]
    assert [(r.outcome, r.status, r.event_id, r.type, r.source) for r in lines] == [  # type: ignore[attr-defined]
        ("accepted", 202, "evt-log", "order.created", "hmac"),
        ("invalid_signature", 401, None, None, "hmac"),
    ]
    assert all(r.duration_ms >= 0 for r in lines)  # type: ignore[attr-defined]
    assert "4242" not in caplog.text
