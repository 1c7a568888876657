"""The signature schemes at the trust boundary: valid, tampered, stale, rotated, and malformed headers.

Malformed inputs must raise our `SignatureError` and nothing else: any other exception is a 500.
"""

from __future__ import annotations

import hashlib
import hmac
import time

import pytest
import stripe

from receiver.errors import BadRequest, SignatureError, StaleTimestamp, UnsupportedMediaType
from receiver.verify import GitHubScheme, HmacScheme, StripeScheme
from receiver.verify.base import Headers
from tests.signing import github_headers, hmac_headers, stripe_headers

NOW = 1_795_000_000.0
BODY = b'{"id":"evt_123","object":"event","type":"payment_intent.succeeded","created":1795000000}'


def raw(headers: dict[str, str]) -> dict[bytes, bytes]:
    return {name.lower().encode(): value.encode("latin-1") for name, value in headers.items()}


# --------------------------------------------------------------------------------------------- github


def test_github_documented_test_vector() -> None:
    # From GitHub's docs, "Validating webhook deliveries": secret, payload and the expected signature.
    headers = {b"x-hub-signature-256": b"sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"}
    GitHubScheme().verify(headers, b"Hello, World!", [b"It's a Secret to Everybody"], NOW)


def test_github_accepts_any_rotated_secret_and_refuses_others() -> None:
    headers = raw(github_headers(BODY, "new-secret", "push"))
    GitHubScheme().verify(headers, BODY, [b"old-secret", b"new-secret"], NOW)
    with pytest.raises(SignatureError):
        GitHubScheme().verify(headers, BODY, [b"old-secret"], NOW)


def test_github_refuses_a_body_changed_by_one_byte() -> None:
    headers = raw(github_headers(BODY, "s", "push"))
    for index in (0, len(BODY) // 2, len(BODY) - 1):
        tampered = BODY[:index] + bytes([BODY[index] ^ 1]) + BODY[index + 1 :]
        with pytest.raises(SignatureError):
            GitHubScheme().verify(headers, tampered, [b"s"], NOW)


def test_github_type_joins_event_and_action() -> None:
    body = b'{"action":"opened","number":1}'
    verified = GitHubScheme().describe("github", raw(github_headers(body, "s", "pull_request", "d-1")), body)
    assert (verified.id, verified.type) == ("d-1", "pull_request.opened")
    assert verified.headers["x-github-event"] == "pull_request"
    assert "x-hub-signature-256" not in verified.headers


def test_github_form_encoded_delivery_carries_json_in_payload_field() -> None:
    body = b"payload=%7B%22zen%22%3A%22Keep+it+logically+awesome.%22%7D"
    headers = raw({**github_headers(body, "s", "ping", "d-2"), "content-type": "application/x-www-form-urlencoded"})
    GitHubScheme().verify(headers, body, [b"s"], NOW)
    assert GitHubScheme().describe("github", headers, body).payload_json == b'{"zen":"Keep it logically awesome."}'


@pytest.mark.parametrize(
    "header",
    [
        "",
        "sha256=",
        "sha1=abc",
        "sha256",
        "SHA256=00",
        "sha256=zz",
        "sha256=" + "0" * 64,
        "\u00ff\u00fe",
        "sha256=\x00",
    ],
)
def test_github_malformed_signature_header_is_a_signature_error(header: str) -> None:
    with pytest.raises(SignatureError):
        GitHubScheme().verify(raw({"x-hub-signature-256": header}), BODY, [b"s"], NOW)


@pytest.mark.parametrize(
    ("change", "error"),
    [
        ({"x-github-delivery": ""}, BadRequest),
        ({"x-github-event": ""}, BadRequest),
        ({"x-github-delivery": "x" * 300}, BadRequest),
        ({"content-type": "text/plain"}, UnsupportedMediaType),
    ],
)
def test_github_describe_refuses_incomplete_deliveries(change: dict[str, str], error: type[Exception]) -> None:
    headers = {**github_headers(BODY, "s", "push"), **change}
    with pytest.raises(error):
        GitHubScheme().describe("github", raw(headers), BODY)


# --------------------------------------------------------------------------------------------- stripe


def test_stripe_header_from_stripes_sdk_verifies() -> None:
    secret = "whsec_test_secret"
    headers = raw(stripe_headers(BODY, secret, timestamp=int(NOW)))
    StripeScheme().verify(headers, BODY, [secret.encode()], NOW)
    # And Stripe's own verifier agrees on the same bytes.
    stripe.WebhookSignature.verify_header(BODY.decode(), headers[b"stripe-signature"].decode(), secret, tolerance=None)


def test_stripe_accepts_any_of_several_v1_signatures() -> None:
    good = stripe.WebhookSignature.generate_signature_header(BODY.decode(), "whsec_new", timestamp=int(NOW))
    timestamp, signature = good.split(",")
    header = f"{timestamp},v1={'0' * 64},{signature},v0=deadbeef"
    StripeScheme().verify({b"stripe-signature": header.encode()}, BODY, [b"whsec_new"], NOW)


@pytest.mark.parametrize("skew_s", [301, -301, 10_000_000])
def test_stripe_refuses_timestamps_outside_the_window_both_ways(skew_s: int) -> None:
    headers = raw(stripe_headers(BODY, "whsec_x", timestamp=int(NOW) - skew_s))
    with pytest.raises(StaleTimestamp):
        StripeScheme(tolerance_s=300).verify(headers, BODY, [b"whsec_x"], NOW)


def test_stripe_checks_the_signature_before_the_window() -> None:
    # A forged request learns nothing about the window: it is invalid_signature, not stale_timestamp.
    headers = raw(stripe_headers(BODY, "whsec_other", timestamp=int(NOW) - 10_000))
    with pytest.raises(SignatureError) as caught:
        StripeScheme().verify(headers, BODY, [b"whsec_x"], NOW)
    assert type(caught.value) is SignatureError


@pytest.mark.parametrize(
    "header",
    [
        "",
        "garbage",
        "t=,v1=00",
        "t=abc,v1=00",
        "t=-5,v1=00",
        "t=1e9,v1=00",
        "t=١٢٣,v1=00",  # non-ASCII digits
        "t=999999999999999999999,v1=00",
        f"t={int(NOW)}",
        f"t={int(NOW)},v0=00",
        f"t={int(NOW)},v1=",
        f"t={int(NOW)},v1=\u00e9\u00e9",
        "v1=00,t",
        ",,,",
    ],
)
def test_stripe_malformed_header_is_a_signature_error(header: str) -> None:
    with pytest.raises(SignatureError):
        StripeScheme().verify({b"stripe-signature": header.encode()}, BODY, [b"whsec_x"], NOW)


def test_stripe_describe_takes_id_type_and_created() -> None:
    verified = StripeScheme().describe("stripe", raw(stripe_headers(BODY, "k")), BODY)
    assert (verified.id, verified.type) == ("evt_123", "payment_intent.succeeded")
    assert verified.occurred_at is not None
    assert verified.occurred_at.timestamp() == 1_795_000_000


def test_stripe_event_without_id_is_a_bad_request() -> None:
    with pytest.raises(BadRequest):
        StripeScheme().describe("stripe", {}, b'{"type":"x"}')


# --------------------------------------------------------------------------------------------- hmac


def test_hmac_default_scheme() -> None:
    headers = raw(hmac_headers(BODY, "dev-secret"))
    HmacScheme().verify(headers, BODY, [b"dev-secret"], NOW)
    with pytest.raises(SignatureError):
        HmacScheme().verify(headers, BODY + b" ", [b"dev-secret"], NOW)


def test_hmac_custom_header_hash_and_encoding() -> None:
    import base64

    scheme = HmacScheme(header="X-Acme-Signature", prefix="", algorithm="sha512", encoding="base64")
    signature = base64.b64encode(hmac.new(b"k", BODY, hashlib.sha512).digest()).decode()
    scheme.verify({b"x-acme-signature": signature.encode()}, BODY, [b"k"], NOW)
    with pytest.raises(SignatureError):
        scheme.verify({b"x-acme-signature": signature.lower().encode()}, BODY, [b"k"], NOW)


@pytest.mark.parametrize(
    ("body", "headers", "expected_id", "expected_type"),
    [
        (b'{"id":"a1","type":"t"}', {}, "a1", "t"),
        (b'{"id":42,"event_type":"u"}', {}, "42", "u"),
        (b'{"idempotency_key":"k1"}', {}, "k1", ""),
        (b'{"x":1}', {b"idempotency-key": b"h1"}, "h1", ""),
        (b'{"x":1}', {b"x-event-id": b"h2"}, "h2", ""),
    ],
)
def test_hmac_event_id_and_type(body: bytes, headers: Headers, expected_id: str, expected_type: str) -> None:
    verified = HmacScheme().describe("hmac", headers, body)
    assert (verified.id, verified.type) == (expected_id, expected_type)


def test_hmac_without_any_id_hashes_source_and_body() -> None:
    first = HmacScheme().describe("hmac", {}, b'{"x":1}').id
    assert first == HmacScheme().describe("hmac", {}, b'{"x":1}').id
    assert first != HmacScheme().describe("other", {}, b'{"x":1}').id
    assert len(first) == 64


@pytest.mark.parametrize(
    "body", [b"", b"not json", b"[1,2]", b'"text"', b"\xff\xfe{}", b'{"a":1', b"\xef\xbb\xbf{}", b"1e400"]
)
def test_bodies_that_are_not_a_json_object_are_bad_requests(body: bytes) -> None:
    with pytest.raises(BadRequest):
        HmacScheme().describe("hmac", {}, body)


@pytest.mark.parametrize("scheme", [HmacScheme(), GitHubScheme(), StripeScheme()])
def test_missing_signature_header_is_a_signature_error(scheme: HmacScheme | GitHubScheme | StripeScheme) -> None:
    with pytest.raises(SignatureError, match="missing"):
        scheme.verify({}, BODY, [b"s"], time.time())
