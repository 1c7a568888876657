"""Property tests at the trust boundary: whatever a sender puts in a request, a verifier raises only our
`SignatureError` family (a 401, never a 500), `describe` only our `RequestError` family, and a signed body
changed by one byte never verifies.
"""

from __future__ import annotations

import contextlib
import time
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from receiver.errors import BadRequest, RequestError, SignatureError
from receiver.sources import load_sources
from receiver.verify import Scheme
from receiver.verify.events import parse_form
from receiver.verify.providers import scheme_for
from tests.unit.receiver.verify.cases import (
    ACME_HMAC,
    CASES,
    DISCORD_KEY,
    SENDGRID_KEY,
    Case,
    discord_env,
    sendgrid_env,
)

NOW = 1_795_000_000.0
URL = "https://hooks.example.com/webhooks/x"
# Each built-in provider here with a secret for it (a key where the scheme needs one parsed), and the generic
# scheme with custom conventions.
SECRETS = {
    "hmac": b"hmac-secret",
    "github": b"gh-secret",
    "stripe": b"whsec_stripe",
    "slack": b"slack-secret",
    "standardwebhooks": b"whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
    "shopify": b"shopify-secret",
    "twilio": b"twilio-token",
    "paddle": b"pdl_ntfset_secret",
    "discord": discord_env(DISCORD_KEY).encode(),
    "twitch": b"twitch-secret",
    "gitlab": b"gitlab-token-long-enough",
    "hubspot": b"hubspot-secret",
    "square": b"square-key",
    "linear": b"linear-secret",
    "pagerduty": b"pd-secret",
    "sendgrid": sendgrid_env(SENDGRID_KEY).encode(),
    "mailgun": b"mailgun-key",
    "typeform": b"typeform-secret",
    "calendly": b"calendly-key",
    "intercom": b"intercom-secret",
    "jira": b"jira-secret",
}
SCHEMES: list[tuple[Scheme, list[bytes]]] = [
    (scheme_for(provider, tolerance_s=300, public_url=URL), [secret]) for provider, secret in SECRETS.items()
]
SCHEMES.append((ACME_HMAC, [b"hmac-secret"]))
HEADER_NAMES = [
    b"content-type",
    b"x-signature-256",
    b"x-acme-signature",
    b"x-acme-timestamp",
    b"x-acme-id",
    b"x-hub-signature-256",
    b"x-hub-signature",
    b"stripe-signature",
    b"x-slack-signature",
    b"x-slack-request-timestamp",
    b"webhook-id",
    b"webhook-timestamp",
    b"webhook-signature",
    b"svix-id",
    b"svix-timestamp",
    b"svix-signature",
    b"x-shopify-hmac-sha256",
    b"x-twilio-signature",
    b"x-twilio-webhooks-signature-settings",
    b"paddle-signature",
    b"x-signature-ed25519",
    b"x-signature-timestamp",
    b"twitch-eventsub-message-id",
    b"twitch-eventsub-message-timestamp",
    b"twitch-eventsub-message-signature",
    b"twitch-eventsub-message-type",
    b"x-gitlab-token",
    b"x-hubspot-signature-v3",
    b"x-hubspot-request-timestamp",
    b"x-square-hmacsha256-signature",
    b"linear-signature",
    b"x-pagerduty-signature",
    b"x-twilio-email-event-webhook-signature",
    b"x-twilio-email-event-webhook-timestamp",
    b"typeform-signature",
    b"calendly-webhook-signature",
]
# Pieces of real header syntax, so values come near to valid, not only random bytes.
_PIECES = st.sampled_from(
    [b"t=", b"v1=", b"v0=", b"v1,", b"v1a,", b"sha256=", b"sha1=", b"ts=", b"h1=", b"key=", b"algorithm=",
     b"HMAC_SHA256", b",", b";", b" ", b"=", b"1795000000", b"1795000000000", b"-1", b"9" * 25, b"zz", b"00" * 32,
     b"AAAA", b"AAA=", b"==", b"\xff\xfe", b"\x00", b"2026-11-26T17:00:00Z", b"2026-13-45T99:00:00Z", b"\xc3\xa9",
     b"application/json", b"application/x-www-form-urlencoded", b"multipart/form-data; boundary=x"]
)  # fmt: skip
_VALUES = st.one_of(st.binary(max_size=120), st.lists(_PIECES, max_size=12).map(b"".join))
_HEADERS = st.dictionaries(st.sampled_from(HEADER_NAMES), _VALUES, max_size=8)
_BODIES = st.one_of(
    st.binary(max_size=300),
    st.sampled_from(
        [b"{}", b"[]", b"[{}]", b'{"signature":{}}', b'{"signature":{"timestamp":"1","token":"t","signature":"s"}}',
         b'{"webhookTimestamp":1795000000000}', b'{"webhookTimestamp":"x"}', b'{"type":"url_verification"}',
         b'{"type":1,"token":"t"}', b'{"type":0}', b"payload=%7B%7D", b"a=1&a=2&b=", b"%ZZ=1", b"\xff=\xfe"]
    ),
)  # fmt: skip
_SETTINGS = settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def scheme_id(value: tuple[Scheme, list[bytes]]) -> str:
    scheme = value[0]
    return f"{scheme.provider}-{type(scheme).__name__}"


@pytest.mark.parametrize("scheme_and_secrets", SCHEMES, ids=scheme_id)
@_SETTINGS
@given(headers=_HEADERS, body=_BODIES, now_s=st.sampled_from([NOW, 0.0, 1e12]))
@example(headers={}, body=b"", now_s=NOW)
def test_verify_raises_only_signature_errors(
    scheme_and_secrets: tuple[Scheme, list[bytes]], headers: dict[bytes, bytes], body: bytes, now_s: float
) -> None:
    scheme, secrets = scheme_and_secrets
    with contextlib.suppress(SignatureError):
        scheme.verify(headers, body, secrets, now_s)


@pytest.mark.parametrize("scheme_and_secrets", SCHEMES, ids=scheme_id)
@_SETTINGS
@given(headers=_HEADERS, body=_BODIES)
def test_describe_raises_only_request_errors(
    scheme_and_secrets: tuple[Scheme, list[bytes]], headers: dict[bytes, bytes], body: bytes
) -> None:
    scheme, _ = scheme_and_secrets
    with contextlib.suppress(RequestError):
        scheme.describe("src", headers, body)


def _source_of(case: Case) -> Any:
    environ = {f"WEBHOOK_SECRET_{case.source.upper()}": case.env_value(case.key), **case.extra_env}
    return load_sources(environ, sources_file=None, tolerance_s=300)[case.source]


# GitLab sends a token, not a signature of the body; Mailgun signs only its timestamp and token; Adyen
# signs selected fields of each item; Microsoft Graph sends only a clientState (their tampering is covered
# in test_providers.py).
BODY_SIGNED = [case for case in CASES if case.source not in ("gitlab", "mailgun", "adyen", "msgraph")]


@pytest.mark.parametrize("case", BODY_SIGNED, ids=lambda case: case.label)
@settings(max_examples=60, deadline=None)
@given(data=st.data())
def test_a_body_changed_by_one_byte_never_verifies(case: Case, data: st.DataObject) -> None:
    now = int(time.time())
    body, headers = case.make(case.key, now)
    index = data.draw(st.integers(0, len(body) - 1))
    mask = data.draw(st.integers(1, 255))
    tampered = body[:index] + bytes([body[index] ^ mask]) + body[index + 1 :]
    source = _source_of(case)
    raw_headers = {name.lower().encode(): value.encode("latin-1") for name, value in headers.items()}
    try:
        source.scheme.verify(raw_headers, tampered, source.secrets, now)
    except SignatureError:
        return
    # Twilio signs the decoded form fields, not the bytes: only an encoding of the same fields may verify
    # (`%2B` and `%2b` are one `+`).
    assert case.label == "twilio-form"
    _same_fields_or_refused(tampered, body)


def _same_fields_or_refused(tampered: bytes, body: bytes) -> None:
    # A Twilio form that verified: the fields of the body it was signed with, or one `describe` refuses as
    # malformed (a 400: nothing is published).
    try:
        fields = parse_form(tampered)
    except BadRequest:
        return
    assert fields == parse_form(body)


def test_a_twilio_form_changed_into_the_same_fields_verifies_and_an_empty_field_is_refused() -> None:
    # Found by the property above: `Body=` at the end turned into `Body&` is the same fields to Twilio's
    # signature (a blank `Body`), and an empty field that `describe` refuses.
    [case] = [case for case in BODY_SIGNED if case.label == "twilio-form"]
    now = int(time.time())
    body, headers = case.make(case.key, now)
    assert body.endswith(b"&Body=")
    tampered = body[:-1] + b"&"
    source = _source_of(case)
    raw_headers = {name.lower().encode(): value.encode("latin-1") for name, value in headers.items()}
    source.scheme.verify(raw_headers, tampered, source.secrets, now)
    with pytest.raises(BadRequest):
        source.scheme.describe(source.name, raw_headers, tampered)
