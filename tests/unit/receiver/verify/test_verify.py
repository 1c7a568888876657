"""The signature schemes at the trust boundary: valid, tampered, stale, rotated, and malformed headers.

Malformed inputs must raise our `SignatureError` and nothing else: any other exception is a 500.
"""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import hmac
import re
import time
from urllib.parse import quote_from_bytes

import orjson
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
    DiscordScheme,
    GitHubScheme,
    GitLabScheme,
    HmacScheme,
    HubSpotScheme,
    LinearScheme,
    MailgunScheme,
    Scheme,
    SendGridScheme,
    SlackScheme,
    StandardWebhooksScheme,
    StripeScheme,
    TwilioScheme,
    TwitchScheme,
)
from receiver.verify.base import Headers
from receiver.verify.events import fallback_event_id
from receiver.verify.providers import scheme_for
from tests.signing import github_headers, hmac_headers, pagerduty_headers, slack_headers, stripe_headers, twitch_headers
from tests.unit.receiver.verify.cases import ACME_HMAC

NOW = 1_795_000_000.0
BODY = b'{"id":"evt_123","object":"event","type":"payment_intent.succeeded","created":1795000000}'


def raw(headers: dict[str, str]) -> dict[bytes, bytes]:
    return {name.lower().encode(): value.encode("latin-1") for name, value in headers.items()}


# --------------------------------------------------------------------------------------------- github


def test_github_documented_test_vector() -> None:
    # From GitHub's docs, "Validating webhook deliveries": secret, payload and the expected signature.
    headers = {b"x-hub-signature-256": b"sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"}
    GitHubScheme().verify(headers, b"Hello, World!", [b"It's a Secret to Everybody"], NOW)
    # And send's signer (`GitHubScheme.sign`, which tests/signing.py uses too) produces exactly that signature.
    signed = GitHubScheme().sign(b"Hello, World!", b"It's a Secret to Everybody", NOW, event_id="d", event_type="push")
    assert signed.headers["x-hub-signature-256"].encode() == headers[b"x-hub-signature-256"]


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
        (b'{"id":"a1","type":"t"}', {b"idempotency-key": b"h1"}, "h1", "t"),
        (b'{"id":42,"event_type":"u"}', {b"x-event-id": b"h2"}, "h2", "u"),
        (b'{"x":1}', {b"webhook-id": b"h3"}, "h3", ""),
    ],
)
def test_hmac_event_id_and_type(body: bytes, headers: Headers, expected_id: str, expected_type: str) -> None:
    verified = HmacScheme().describe("hmac", headers, body)
    assert (verified.id, verified.type) == (expected_id, expected_type)


def test_hmac_ignores_the_body_id_unless_id_field_names_it() -> None:
    # A sender posting the resource itself: two updates of one order share its `id` but are two events.
    created, paid = b'{"id":"order-1","status":"created"}', b'{"id":"order-1","status":"paid"}'
    assert HmacScheme().describe("hmac", {}, created).id != HmacScheme().describe("hmac", {}, paid).id
    assert HmacScheme().describe("hmac", {}, created).id == fallback_event_id("hmac", created)
    by_field = HmacScheme(id_field="id")
    assert by_field.describe("hmac", {}, created).id == by_field.describe("hmac", {}, paid).id == "order-1"


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

    scheme = dataclasses.replace(ACME_HMAC, type_field="event.kind")
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
        (scheme_for("paddle", tolerance_s=300), {b"paddle-signature": b"h1=00"}, MalformedHeader),
        (scheme_for("paddle", tolerance_s=300), {b"paddle-signature": b"ts=1795000000;h1"}, MalformedHeader),
        (scheme_for("paddle", tolerance_s=300), {b"paddle-signature": b"ts=-1;h1=00"}, MalformedHeader),
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
        (scheme_for("pagerduty", tolerance_s=300), {b"x-pagerduty-signature": b"v2=00"}, MalformedHeader),
        (SendGridScheme(), {b"x-twilio-email-event-webhook-signature": b"%%%"}, MalformedHeader),
        (scheme_for("calendly", tolerance_s=300), {b"calendly-webhook-signature": b"v1=00"}, MalformedHeader),
        (scheme_for("typeform", tolerance_s=300), {b"typeform-signature": b"sha1=AAAA"}, MalformedHeader),
        (scheme_for("intercom", tolerance_s=300), {b"x-hub-signature": b"sha256=00"}, MalformedHeader),
        (scheme_for("jira", tolerance_s=300), {b"x-hub-signature": b"sha1=00"}, MalformedHeader),
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
    assert re.fullmatch(rb"[0-9-]{10}T[0-9:]{8}\.[0-9]{9}Z", headers[b"twitch-eventsub-message-timestamp"])
    assert TwitchScheme().verify(headers, body, [b"s"], NOW) == 0
    occurred = TwitchScheme().describe("twitch", headers, body).occurred_at
    assert occurred is not None
    assert int(occurred.timestamp()) == int(NOW)


def test_pagerduty_accepts_any_of_several_v1_signatures() -> None:
    body = b'{"event":{"id":"1","event_type":"incident.triggered"}}'
    headers = raw(pagerduty_headers(body, "old-secret", "new-secret"))
    assert scheme_for("pagerduty", tolerance_s=300).verify(headers, body, [b"new-secret"], NOW) == 0
    assert scheme_for("pagerduty", tolerance_s=300).verify(headers, body, [b"other", b"old-secret"], NOW) == 1


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


# ------------------------------------------------------------------ signed as each provider documents
# Each test builds the signature inline, exactly as the named source describes, so that a change to
# tests/signing.py can't hide a drift from the provider. Published vectors name where they come from.

SHOPIFY_BODY = b'{"foo": "bar"}'
# PagerDuty/go-pagerduty, webhookv3/webhookv3_test.go: `secret`, `defaultBody` and the "valid" signature.
PAGERDUTY_SECRET = b"lDQHScfUeXUKaQRNF+8XIiDKZ7XX3itBAYzwU0TARw8lJqRnkKl2iB1anSb0Z+IK"
PAGERDUTY_BODY = (
    b'{"event":{"id":"01BWDWL3NYY7LUFPZCC28QUCMK","event_type":"incident.priority_updated","resource_type":"incident",'
    b'"occurred_at":"2021-04-26T17:36:27.458Z","agent":{"html_url":"https://acme.pagerduty.com/users/PLH1HKV",'
    b'"id":"PLH1HKV","self":"https://api.pagerduty.com/users/PLH1HKV","summary":"Tenex Engineer",'
    b'"type":"user_reference"},'
    b'"client":null,"data":{"id":"PGR0VU2","type":"incident","self":"https://api.pagerduty.com/incidents/PGR0VU2",'
    b'"html_url":"https://acme.pagerduty.com/incidents/PGR0VU2","number":2,"status":"triggered",'
    b'"title":"A little bump in the road","service":{"html_url":"https://acme.pagerduty.com/services/PF9KMXH",'
    b'"id":"PF9KMXH","self":"https://api.pagerduty.com/services/PF9KMXH","summary":"API Service",'
    b'"type":"service_reference"},"assignees":[{"html_url":"https://acme.pagerduty.com/users/PTUXL6G","id":"PTUXL6G",'
    b'"self":"https://api.pagerduty.com/users/PTUXL6G","summary":"User 123","type":"user_reference"}],'
    b'"escalation_policy":{"html_url":"https://acme.pagerduty.com/escalation_policies/PUS0KTE","id":"PUS0KTE",'
    b'"self":"https://api.pagerduty.com/escalation_policies/PUS0KTE","summary":"Default",'
    b'"type":"escalation_policy_reference"},"teams":[{"html_url":"https://acme.pagerduty.com/teams/PFCVPS0",'
    b'"id":"PFCVPS0","self":"https://api.pagerduty.com/teams/PFCVPS0","summary":"Engineering","type":"team_reference"}],'
    b'"priority":{"html_url":"https://acme.pagerduty.com/account/incident_priorities","id":"PSO75BM",'
    b'"self":"https://api.pagerduty.com/priorities/PSO75BM","summary":"P1","type":"priority_reference"},'
    b'"urgency":"high","conference_bridge":{"conference_number":1000,"conference_url":"https://example.com"},'
    b'"resolve_reason":null}}}'
)
# twitch-rs/twitch_api (a community library, not Twitch's own), src/eventsub/mod.rs `verify_request`: a request
# captured from Twitch's CLI (Content-Length 458 matches the body), with a 7-digit fraction in its timestamp.
TWITCH_CAPTURED_BODY = (
    b'{"subscription":{"id":"ae2ff348-e102-16be-a3eb-6830c1bf38d2","status":"enabled","type":"channel.follow",'
    b'"version":"1","condition":{"broadcaster_user_id":"44429626"},"transport":{"method":"webhook","callback":"null"},'
    b'"created_at":"2021-02-19T23:47:00.7621315Z"},"event":{"user_id":"28408015","user_login":"testFromUser",'
    b'"user_name":"testFromUser","broadcaster_user_id":"44429626","broadcaster_user_login":"44429626",'
    b'"broadcaster_user_name":"testBroadcaster"}}'
)


def _hex(algorithm: str, key: bytes, message: bytes) -> str:
    return hmac.new(key, message, getattr(hashlib, algorithm)).hexdigest()


def test_shopify_published_vector() -> None:
    # Shopify/shopify-api-js, lib/webhooks/__tests__/validate.test.ts: body '{"foo": "bar"}', apiSecretKey
    # 'test_secret_key' (lib/__tests__/test-config.ts) and the expected X-Shopify-Hmac-Sha256.
    headers = {b"x-shopify-hmac-sha256": b"B23tXN681gZ0qIWNRrgtzBE9XSDo5yaUu6wfmhu3a7g="}
    assert scheme_for("shopify", tolerance_s=300).verify(headers, SHOPIFY_BODY, [b"test_secret_key"], NOW) == 0
    with pytest.raises(SignatureError):
        scheme_for("shopify", tolerance_s=300).verify(headers, SHOPIFY_BODY + b" ", [b"test_secret_key"], NOW)


def test_shopify_signed_as_documented_and_described_by_its_headers() -> None:
    # shopify.dev "Webhooks delivery structure": base64 HMAC-SHA256 of the raw body with the app's client secret;
    # X-Shopify-Webhook-Id deduplicates deliveries, X-Shopify-Event-Id is shared by every delivery of one action.
    digest = base64.b64encode(hmac.new(b"app-secret", SHOPIFY_BODY, hashlib.sha256).digest())
    headers = {
        b"x-shopify-hmac-sha256": digest,
        b"x-shopify-topic": b"products/create",
        b"x-shopify-webhook-id": b"b54557e4-bdd9-4b37-8a5f-bf7d70bcd043",
        b"x-shopify-event-id": b"98880550-7158-44d4-b7cd-2c97c8a091b5",
        b"x-shopify-triggered-at": b"2023-03-29T18:00:27.877041743Z",
    }
    assert scheme_for("shopify", tolerance_s=300).verify(headers, SHOPIFY_BODY, [b"app-secret"], NOW) == 0
    verified = scheme_for("shopify", tolerance_s=300).describe("shopify", headers, SHOPIFY_BODY)
    assert (verified.id, verified.type) == ("b54557e4-bdd9-4b37-8a5f-bf7d70bcd043", "products/create")
    assert verified.headers["x-shopify-event-id"] == "98880550-7158-44d4-b7cd-2c97c8a091b5"
    assert verified.occurred_at is not None
    assert "x-shopify-hmac-sha256" not in verified.headers


def test_twitch_captured_vector() -> None:
    headers = {
        b"twitch-eventsub-message-id": b"ae2ff348-e102-16be-a3eb-6830c1bf38d2",
        b"twitch-eventsub-message-timestamp": b"2021-02-19T23:47:00.8091512Z",
        b"twitch-eventsub-message-signature": (
            b"sha256=d10f5bd9474b7ac7bd7105eb79c2d52768b4d0cd2a135982c3bf5a1d59a78823"
        ),
        b"twitch-eventsub-message-type": b"notification",
        b"twitch-eventsub-subscription-type": b"channel.follow",
    }
    sent_at = 1_613_778_420.8
    assert TwitchScheme().verify(headers, TWITCH_CAPTURED_BODY, [b"secretabcd"], sent_at) == 0
    with pytest.raises(StaleTimestamp):
        TwitchScheme().verify(headers, TWITCH_CAPTURED_BODY, [b"secretabcd"], NOW)


def test_twitch_signed_as_its_cli_signs() -> None:
    # twitchdev/twitch-cli, internal/events/trigger/forward_event.go: HMAC-SHA256 over the message id, the
    # RFC 3339 (nanosecond) timestamp and the body, sent as "sha256=%x"; the docs reject messages over 10 min old.
    stamp = b"2026-11-18T21:46:40.123456789Z"
    body = b'{"subscription":{"type":"stream.online"},"event":{"id":"9001"}}'
    headers = {
        b"twitch-eventsub-message-id": b"befa7b53-d79d-478f-86b9-120f112b044e",
        b"twitch-eventsub-message-timestamp": stamp,
        b"twitch-eventsub-message-signature": b"sha256="
        + _hex("sha256", b"s3cre7", b"befa7b53-d79d-478f-86b9-120f112b044e" + stamp + body).encode(),
        b"twitch-eventsub-subscription-type": b"stream.online",
    }
    assert TwitchScheme().verify(headers, body, [b"s3cre7"], 1_795_038_400.0) == 0
    headers[b"twitch-eventsub-message-signature"] = b"sha256=" + _hex("sha256", b"s3cre7", body).encode()
    with pytest.raises(SignatureError):
        TwitchScheme().verify(headers, body, [b"s3cre7"], 1_795_038_400.0)


def test_gitlab_event_id_is_the_idempotency_key_never_the_recursion_uuid() -> None:
    # gitlabhq/gitlabhq app/services/web_hook_service.rb `build_headers`: Idempotency-Key is kept on a resend,
    # X-Gitlab-Webhook-UUID is new per attempt, and X-Gitlab-Event-UUID (recursion detection, uuid.rb) is shared
    # by every hook one request triggers, so two distinct events can carry the same one.
    body = b'{"object_kind":"push","ref":"refs/heads/main"}'
    headers = {
        b"x-gitlab-token": b"t0ken",
        b"x-gitlab-event": b"Push Hook",
        b"x-gitlab-event-uuid": b"13792a34-cac6-4fda-95a8-c58e00a3954e",
        b"x-gitlab-webhook-uuid": b"a7cbfbc9-3d3e-4e86-9d5b-9d87fd1ad7c4",
        b"idempotency-key": b"f5e5f430-f57b-4e6e-9fac-d9128cd7232f",
    }
    assert GitLabScheme().verify(headers, body, [b"other", b"t0ken"], NOW) == 1
    verified = GitLabScheme().describe("gitlab", headers, body)
    assert (verified.id, verified.type) == ("f5e5f430-f57b-4e6e-9fac-d9128cd7232f", "push")
    assert verified.headers["x-gitlab-event-uuid"] == "13792a34-cac6-4fda-95a8-c58e00a3954e"
    assert "x-gitlab-token" not in verified.headers
    del headers[b"idempotency-key"]
    assert GitLabScheme().describe("gitlab", headers, body).id == fallback_event_id("gitlab", body)


def test_linear_signed_as_its_sdk_verifies() -> None:
    # linear/linear packages/sdk/src/webhooks/client.ts: hex HMAC-SHA256 of the raw body in `linear-signature`;
    # only the body's `webhookTimestamp` (ms) establishes freshness, never the `linear-timestamp` header.
    fresh = b'{"type":"Issue","action":"create","webhookTimestamp":1795000000000}'
    stale = b'{"type":"Issue","action":"create","webhookTimestamp":1794999400000}'
    for body, ok in ((fresh, True), (stale, False)):
        headers = {
            b"linear-signature": _hex("sha256", b"SECRET", body).encode(),
            b"linear-timestamp": b"1795000000000",
            b"linear-delivery": b"7f3a2d9e-4f0b-4c1e-9a57-1b2c3d4e5f60",
        }
        if ok:
            assert LinearScheme().verify(headers, body, [b"SECRET"], NOW) == 0
            verified = LinearScheme().describe("linear", headers, body)
            assert (verified.id, verified.type) == ("7f3a2d9e-4f0b-4c1e-9a57-1b2c3d4e5f60", "Issue.create")
            assert verified.headers["linear-timestamp"] == "1795000000000"
        else:
            with pytest.raises(StaleTimestamp):
                LinearScheme().verify(headers, body, [b"SECRET"], NOW)


def test_pagerduty_published_vector() -> None:
    valid = {b"x-pagerduty-signature": b"v1=0c0b9495b893a39e70d1fea2fe11fbe0a825f88b9f67846f6cc07dd2bc5476cd"}
    assert scheme_for("pagerduty", tolerance_s=300).verify(valid, PAGERDUTY_BODY, [PAGERDUTY_SECRET], NOW) == 0
    mismatch = {b"x-pagerduty-signature": b"v1=7020c8a7ec668a9b7012bc3dd82e483394b038f4230acc6785efbf2a7d8bcaf5"}
    with pytest.raises(SignatureError):
        scheme_for("pagerduty", tolerance_s=300).verify(mismatch, PAGERDUTY_BODY, [PAGERDUTY_SECRET], NOW)
    verified = scheme_for("pagerduty", tolerance_s=300).describe("pagerduty", valid, PAGERDUTY_BODY)
    assert (verified.id, verified.type) == ("01BWDWL3NYY7LUFPZCC28QUCMK", "incident.priority_updated")


def test_pagerduty_skips_entries_of_other_versions_as_its_sdk_does() -> None:
    # docs/webhooks/04-Signatures.md: split on ",", keep only "v1=" entries; go-pagerduty skips the rest.
    signature = _hex("sha256", PAGERDUTY_SECRET, PAGERDUTY_BODY).encode()
    headers = {b"x-pagerduty-signature": b"v0=abc,garbage,v1=" + signature}
    assert scheme_for("pagerduty", tolerance_s=300).verify(headers, PAGERDUTY_BODY, [PAGERDUTY_SECRET], NOW) == 0


def _mailgun(signature: dict[str, object]) -> bytes:
    return orjson.dumps({"signature": signature, "event-data": {"id": "CPgfbmQMTCKtHW6uIWtuVe", "event": "delivered"}})


def test_mailgun_signed_as_documented() -> None:
    # Mailgun docs, "Securing Webhooks": hex HMAC-SHA256 of timestamp + token (no separator) with the webhook
    # signing key; mailgun/mailgun-go webhooks_test.go signs token "token" at timestamp "123456789" the same way.
    body = _mailgun(
        {"token": "token", "timestamp": "123456789", "signature": _hex("sha256", b"key", b"123456789token")}
    )
    assert MailgunScheme().verify({}, body, [b"key"], 123_456_789.0) == 0
    verified = MailgunScheme().describe("mailgun", {}, body)
    assert (verified.id, verified.type) == ("CPgfbmQMTCKtHW6uIWtuVe", "delivered")


def test_mailgun_accepts_the_parent_signature_of_a_subaccount_and_an_integer_timestamp() -> None:
    # Mailgun docs, "Securing Webhooks": a subaccount's event adds `parent-signature`, made with the primary
    # account's key; the docs' table types `timestamp` as int.
    token = "e0b5477167110d68991efc6b9f89f0a11066af27834600e123"
    body = _mailgun(
        {
            "token": token,
            "timestamp": 1795000000,
            "signature": _hex("sha256", b"subaccount-key", b"1795000000" + token.encode()),
            "parent-signature": _hex("sha256", b"parent-key", b"1795000000" + token.encode()),
        }
    )
    assert MailgunScheme().verify({}, body, [b"parent-key"], NOW) == 0
    assert MailgunScheme().verify({}, body, [b"other", b"subaccount-key"], NOW) == 1
    with pytest.raises(SignatureError):
        MailgunScheme().verify({}, body, [b"other"], NOW)


@pytest.mark.parametrize("timestamp", [-1, 10**11, 1.5, True, ""])
def test_mailgun_refuses_odd_timestamps_with_our_errors(timestamp: object) -> None:
    body = _mailgun({"token": "t", "timestamp": timestamp, "signature": "00"})
    with pytest.raises(SignatureError):
        MailgunScheme().verify({}, body, [b"k"], NOW)


def test_typeform_signed_as_documented() -> None:
    # typeform.com/developers/webhooks/secure-your-webhooks: HMAC-SHA256 of the raw payload with the webhook
    # secret, base64 (Ruby `strict_encode64`), prefixed "sha256=", in Typeform-Signature.
    body = b'{"event_id":"01J6Z8","event_type":"form_response","form_response":{"form_id":"lT4Z3j"}}'
    digest = base64.b64encode(hmac.new(b"abc123", body, hashlib.sha256).digest())
    headers = {b"typeform-signature": b"sha256=" + digest}
    assert scheme_for("typeform", tolerance_s=300).verify(headers, body, [b"abc123"], NOW) == 0
    hex_form = {b"typeform-signature": b"sha256=" + _hex("sha256", b"abc123", body).encode()}
    with pytest.raises(SignatureError):
        scheme_for("typeform", tolerance_s=300).verify(hex_form, body, [b"abc123"], NOW)


def test_calendly_signed_as_documented() -> None:
    # Calendly "Webhook Signatures": Calendly-Webhook-Signature: t=<unix s>,v1=<hex HMAC-SHA256 of "<t>.<body>">.
    body = b'{"created_at":"2026-11-18T21:46:40.000000Z","event":"invitee.created","payload":{"uri":"u"}}'
    headers = {
        b"calendly-webhook-signature": b"t=1795000000,v1=" + _hex("sha256", b"key", b"1795000000." + body).encode()
    }
    assert scheme_for("calendly", tolerance_s=300).verify(headers, body, [b"key"], NOW) == 0
    with pytest.raises(StaleTimestamp):
        scheme_for("calendly", tolerance_s=300).verify(headers, body, [b"key"], NOW + 3600)


def test_intercom_and_jira_signed_as_documented() -> None:
    # Intercom "Signed Notifications": X-Hub-Signature: sha1=<hex HMAC-SHA1 of the body>. Jira "Secure admin
    # webhooks": the WebSub form, X-Hub-Signature: sha256=<hex HMAC-SHA256 of the body>.
    intercom = b'{"type":"notification_event","id":"notif_78c122d0-23ba-11e4-9464-79b01267cc2e","topic":"user.created"}'
    headers = {b"x-hub-signature": b"sha1=" + _hex("sha1", b"client-secret", intercom).encode()}
    assert scheme_for("intercom", tolerance_s=300).verify(headers, intercom, [b"client-secret"], NOW) == 0
    verified = scheme_for("intercom", tolerance_s=300).describe("intercom", headers, intercom)
    assert (verified.id, verified.type) == ("notif_78c122d0-23ba-11e4-9464-79b01267cc2e", "user.created")

    jira = b'{"timestamp":1795000000000,"webhookEvent":"jira:issue_created","issue":{"key":"ABC-1"}}'
    headers = {
        b"x-hub-signature": b"sha256=" + _hex("sha256", b"jira-secret", jira).encode(),
        b"x-atlassian-webhook-identifier": b"8f6c1a21-3c1e-4d9a-b7a8-2d1e0f9c4b11",
    }
    assert scheme_for("jira", tolerance_s=300).verify(headers, jira, [b"jira-secret"], NOW) == 0
    verified = scheme_for("jira", tolerance_s=300).describe("jira", headers, jira)
    assert (verified.id, verified.type) == ("8f6c1a21-3c1e-4d9a-b7a8-2d1e0f9c4b11", "jira:issue_created")
