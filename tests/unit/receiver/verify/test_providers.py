"""Every provider through the real ASGI app with the recording publisher: what a sender sees, what is published.

For each provider: a valid request is accepted and published with the provider's id and type; the same
request with its body changed, signed too long ago (or too far ahead), or signed with another secret is
refused and publishes nothing; a request signed with the second of two rotated secrets is accepted and
counted under `webhooks_secret_matches_total{secret="1"}`. Signatures come from tests/signing.py, which
uses the providers' own SDKs where they can sign.
"""

from __future__ import annotations

import time

import pytest

from schemas import Envelope
from schemas.payloads import payload_model
from tests.unit.receiver.verify.cases import CASES, Case, post, serving

TIMED = [case for case in CASES if case.timed]


def ids(case: Case) -> str:
    return case.label


@pytest.mark.parametrize("case", CASES, ids=ids)
async def test_valid_request_is_published_with_the_providers_id_and_type(case: Case) -> None:
    request = case.make(case.key, int(time.time()))
    expected_id = case.event_id(request[0]) if callable(case.event_id) else case.event_id
    async with serving(case) as app:
        response = await post(app, case, request)
        if case.source == "adyen":  # Adyen wants its own acknowledgement
            assert (response.status_code, response.text) == (200, "[accepted]")
        else:
            assert (response.status_code, response.json()) == (202, {"status": "accepted", "id": expected_id})
        [(topic, key, value, headers)] = app.publisher.records
        assert (topic, key) == (f"webhooks.{case.source}", expected_id.encode())
        assert dict(headers)["webhook-type"] == case.event_type.encode()
        envelope = Envelope.from_bytes(value)
        assert (envelope.id, envelope.provider, envelope.type) == (expected_id, case.source, case.event_type)
        model = payload_model(case.source)
        assert model is not None
        model.model_validate(envelope.payload)
        assert app.sample("webhooks_secret_matches_total", {"source": case.source, "secret": "0"}) == 1
        labels = {"source": case.source, "provider": case.source, "outcome": "accepted"}
        assert app.sample("webhooks_received_total", labels) == 1


@pytest.mark.parametrize("case", CASES, ids=ids)
async def test_tampered_request_is_refused(case: Case) -> None:
    request = case.tamper(*case.make(case.key, int(time.time())))
    async with serving(case) as app:
        response = await post(app, case, request)
        assert (response.status_code, response.json()) == (401, {"error": "invalid_signature"})
        assert app.publisher.records == []
        labels = {"source": case.source, "reason": "bad_signature"}
        assert app.sample("webhooks_signature_failures_total", labels) == 1


@pytest.mark.parametrize("case", CASES, ids=ids)
async def test_request_signed_with_another_secret_is_refused(case: Case) -> None:
    async with serving(case) as app:
        response = await post(app, case, case.make(case.other, int(time.time())))
        assert (response.status_code, response.json()) == (401, {"error": "invalid_signature"})
        assert app.publisher.records == []


@pytest.mark.parametrize("case", TIMED, ids=ids)
@pytest.mark.parametrize(("skew_s", "reason"), [(-3600, "stale_timestamp"), (3600, "future_timestamp")])
async def test_stale_or_future_request_is_refused(case: Case, skew_s: int, reason: str) -> None:
    async with serving(case) as app:
        response = await post(app, case, case.make(case.key, int(time.time()) + skew_s))
        assert (response.status_code, response.json()) == (401, {"error": "stale_timestamp"})
        assert app.publisher.records == []
        assert app.sample("webhooks_signature_failures_total", {"source": case.source, "reason": reason}) == 1
        labels = {"source": case.source, "provider": case.source, "outcome": "stale_timestamp"}
        assert app.sample("webhooks_received_total", labels) == 1


@pytest.mark.parametrize("case", CASES, ids=ids)
async def test_second_rotated_secret_is_accepted_and_counted_by_position(case: Case) -> None:
    secrets = f"{case.env_value(case.other)},{case.env_value(case.key)}"
    async with serving(case, secrets) as app:
        response = await post(app, case, case.make(case.key, int(time.time())))
        assert response.status_code == (200 if case.source == "adyen" else 202)
        assert app.sample("webhooks_secret_matches_total", {"source": case.source, "secret": "1"}) == 1
        assert app.sample("webhooks_secret_matches_total", {"source": case.source, "secret": "0"}) == 0


@pytest.mark.parametrize("case", CASES, ids=ids)
async def test_request_without_headers_is_a_missing_header(case: Case) -> None:
    body, _ = case.make(case.key, int(time.time()))
    if case.source == "mailgun":
        body = b'{"event-data":{"id":"x"}}'
    if case.source in ("adyen", "msgraph"):  # their signature is in the body: take it out
        body = body.replace(b"hmacSignature", b"hmacSignatureX").replace(b"clientState", b"clientStateX")
    async with serving(case) as app:
        response = await app.http.post(
            f"/webhooks/{case.source}", content=body, headers={"content-type": "application/json"}
        )
        assert (response.status_code, response.json()) == (401, {"error": "invalid_signature"})
        labels = {"source": case.source, "reason": "missing_header"}
        assert app.sample("webhooks_signature_failures_total", labels) == 1


@pytest.mark.parametrize("case", TIMED, ids=ids)
async def test_a_forged_stale_request_learns_nothing_about_the_window(case: Case) -> None:
    async with serving(case) as app:
        response = await post(app, case, case.make(case.other, int(time.time()) - 3600))
        assert (response.status_code, response.json()) == (401, {"error": "invalid_signature"})
