"""The signature schemes at the trust boundary: valid, tampered, stale, rotated, and malformed headers.

Malformed inputs must raise our `SignatureError` and nothing else: any other exception is a 500.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from urllib.parse import quote_from_bytes

import pytest
import stripe

from receiver.errors import (
    BadRequest,
    FutureTimestamp,
    MalformedHeader,
    MissingHeader,
    SignatureError,
    StaleTimestamp,
    UnsupportedMediaType,
)
from receiver.verify import (
    CalendlyScheme,
    DiscordScheme,
    GitHubScheme,
    GitLabScheme,
    HmacScheme,
    HubSpotScheme,
    LinearScheme,
    MailgunScheme,
    PaddleScheme,
    PagerDutyScheme,
    Scheme,
    SendGridScheme,
    SlackScheme,
    StandardWebhooksScheme,
    StripeScheme,
    TwilioScheme,
    TwitchScheme,
    TypeformScheme,
    WebSubScheme,
)
from receiver.verify.base import Headers
from tests.signing import github_headers, hmac_headers, pagerduty_headers, slack_headers, stripe_headers, twitch_headers

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


# ---------------------------------------------------------------------- generic hmac: time and template


def test_hmac_with_a_signed_timestamp_and_template() -> None:
    import base64

    scheme = HmacScheme(
        header="X-Acme-Signature",
        prefix="",
        encoding="base64",
        timestamp_header="X-Acme-Timestamp",
        timestamp_unit="ms",
        signed_content="{id}:{timestamp}:{body}",
        id_header="X-Acme-Id",
        type_field="event.kind",
    )
    body = b'{"event":{"kind":"order.paid"}}'
    stamp = str(int(NOW * 1000)).encode()
    digest = base64.b64encode(hmac.new(b"k", b"d-1:" + stamp + b":" + body, hashlib.sha256).digest())
    headers = {b"x-acme-signature": digest, b"x-acme-timestamp": stamp, b"x-acme-id": b"d-1"}
    assert scheme.verify(headers, body, [b"old", b"k"], NOW) == 1
    with pytest.raises(SignatureError):
        scheme.verify({**headers, b"x-acme-id": b"d-2"}, body, [b"k"], NOW)
    with pytest.raises(StaleTimestamp):
        scheme.verify(headers, body, [b"k"], NOW + 301)
    with pytest.raises(FutureTimestamp):
        scheme.verify(headers, body, [b"k"], NOW - 301)
    with pytest.raises(MalformedHeader):
        scheme.verify({**headers, b"x-acme-timestamp": b"soon"}, body, [b"k"], NOW)
    verified = scheme.describe("acme", headers, body)
    assert (verified.id, verified.type) == ("d-1", "order.paid")


# ---------------------------------------------------------------------- reasons at the trust boundary


@pytest.mark.parametrize(
    ("scheme", "headers", "reason"),
    [
        (SlackScheme(), {}, MissingHeader),
        (SlackScheme(), {b"x-slack-signature": b"v0=00", b"x-slack-request-timestamp": b"12e3"}, MalformedHeader),
        (SlackScheme(), {b"x-slack-signature": b"v1=00", b"x-slack-request-timestamp": b"1795000000"}, MalformedHeader),
        (StandardWebhooksScheme(), {b"webhook-id": b"m", b"webhook-timestamp": b"1795000000"}, MissingHeader),
        (
            StandardWebhooksScheme(),
            {b"webhook-id": b"m", b"webhook-timestamp": b"1795000000", b"webhook-signature": b"v1,!!!"},
            MalformedHeader,
        ),
        (
            StandardWebhooksScheme(),
            {b"webhook-id": b"m", b"webhook-timestamp": b"1795000000", b"webhook-signature": b"v2,AAAA"},
            MalformedHeader,
        ),
        (PaddleScheme(), {b"paddle-signature": b"h1=00"}, MalformedHeader),
        (PaddleScheme(), {b"paddle-signature": b"ts=1795000000;h1"}, MalformedHeader),
        (PaddleScheme(), {b"paddle-signature": b"ts=-1;h1=00"}, MalformedHeader),
        (DiscordScheme(), {b"x-signature-ed25519": b"zz", b"x-signature-timestamp": b"1795000000"}, MalformedHeader),
        (DiscordScheme(), {b"x-signature-ed25519": b"00", b"x-signature-timestamp": b"1795000000"}, MalformedHeader),
        (
            TwitchScheme(),
            {
                b"twitch-eventsub-message-id": b"m",
                b"twitch-eventsub-message-timestamp": b"yesterday",
                b"twitch-eventsub-message-signature": b"sha256=00",
            },
            MalformedHeader,
        ),
        (TwilioScheme(public_url="https://x.example.com/t"), {}, MissingHeader),
        (
            TwilioScheme(public_url="https://x.example.com/t"),
            {b"x-twilio-signature": b"AAAA", b"x-twilio-webhooks-signature-settings": b"algorithm=MD5"},
            MalformedHeader,
        ),
        (HubSpotScheme(public_url="https://x.example.com/h"), {b"x-hubspot-signature-v3": b"A"}, MissingHeader),
        (PagerDutyScheme(), {b"x-pagerduty-signature": b"v2=00"}, MalformedHeader),
        (SendGridScheme(), {b"x-twilio-email-event-webhook-signature": b"%%%"}, MalformedHeader),
        (CalendlyScheme(), {b"calendly-webhook-signature": b"v1=00"}, MalformedHeader),
        (TypeformScheme(), {b"typeform-signature": b"sha1=AAAA"}, MalformedHeader),
        (WebSubScheme(provider="intercom"), {b"x-hub-signature": b"sha256=00"}, MalformedHeader),
        (WebSubScheme(provider="jira"), {b"x-hub-signature": b"sha1=00"}, MalformedHeader),
        (GitLabScheme(), {}, MissingHeader),
    ],
)
def test_malformed_and_missing_headers_carry_their_reason(
    scheme: Scheme, headers: dict[bytes, bytes], reason: type[SignatureError]
) -> None:
    with pytest.raises(reason):
        scheme.verify(headers, BODY, [b"s"], NOW)


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"not json", MalformedHeader),
        (b'{"event-data":{}}', MissingHeader),
        (b'{"signature":{"timestamp":"1","token":"t"}}', MissingHeader),
        (b'{"signature":{"timestamp":"soon","token":"t","signature":"s"}}', MalformedHeader),
    ],
)
def test_mailgun_signature_object_in_the_body(body: bytes, reason: type[SignatureError]) -> None:
    with pytest.raises(reason):
        MailgunScheme().verify({}, body, [b"k"], NOW)


@pytest.mark.parametrize(
    "body",
    [b'{"action":"create"}', b'{"webhookTimestamp":"1795000000000"}', b'{"webhookTimestamp":true}', b"[1]"],
)
def test_linear_needs_its_signed_body_timestamp(body: bytes) -> None:
    headers = {b"linear-signature": hmac.new(b"k", body, hashlib.sha256).hexdigest().encode()}
    with pytest.raises(SignatureError) as caught:
        LinearScheme().verify(headers, body, [b"k"], NOW)
    assert caught.value.reason in ("missing_header", "malformed_header")


def test_reasons_keep_what_the_sender_sees() -> None:
    for error in (MissingHeader, MalformedHeader):
        assert (error.status_code, error.code, error.outcome) == (401, "invalid_signature", "invalid_signature")
    assert (FutureTimestamp.status_code, FutureTimestamp.code, FutureTimestamp.outcome) == (
        401,
        "stale_timestamp",
        "stale_timestamp",
    )
    assert (SignatureError.reason, StaleTimestamp.reason, FutureTimestamp.reason) == (
        "bad_signature",
        "stale_timestamp",
        "future_timestamp",
    )


def test_twitch_nanosecond_timestamps_are_read() -> None:
    body = b'{"subscription":{"type":"channel.follow"}}'
    headers = raw(twitch_headers(body, "s", "m-1", timestamp=int(NOW)))
    assert headers[b"twitch-eventsub-message-timestamp"].endswith(b".123456789Z")
    assert TwitchScheme().verify(headers, body, [b"s"], NOW) == 0
    occurred = TwitchScheme().describe("twitch", headers, body).occurred_at
    assert occurred is not None
    assert int(occurred.timestamp()) == int(NOW)


def test_pagerduty_accepts_any_of_several_v1_signatures() -> None:
    body = b'{"event":{"id":"1","event_type":"incident.triggered"}}'
    headers = raw(pagerduty_headers(body, "old-secret", "new-secret"))
    assert PagerDutyScheme().verify(headers, body, [b"new-secret"], NOW) == 0
    assert PagerDutyScheme().verify(headers, body, [b"other", b"old-secret"], NOW) == 1


def test_slack_interaction_publishes_its_payload_json() -> None:
    inner = b'{"type":"block_actions","trigger_id":"13345224609.738474920.8088930838d88f008e0","actions":[]}'
    body = b"payload=" + quote_from_bytes(inner).encode()
    headers = raw(slack_headers(body, "s", int(NOW), content_type="application/x-www-form-urlencoded"))
    SlackScheme().verify(headers, body, [b"s"], NOW)
    verified = SlackScheme().describe("slack", headers, body)
    assert (verified.id, verified.type, verified.payload_json) == (
        "13345224609.738474920.8088930838d88f008e0",
        "block_actions",
        inner,
    )


def test_slack_retries_keep_the_event_id_and_say_so() -> None:
    body = b'{"type":"event_callback","event_id":"Ev1","event":{"type":"message"}}'
    headers = raw({**slack_headers(body, "s", int(NOW)), "x-slack-retry-num": "1", "x-slack-retry-reason": "timeout"})
    verified = SlackScheme().describe("slack", headers, body)
    assert (verified.id, verified.headers["x-slack-retry-num"]) == ("Ev1", "1")
    assert "x-slack-signature" not in verified.headers
