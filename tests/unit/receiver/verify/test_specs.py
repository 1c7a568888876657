"""The declarative providers (receiver/specs/*.toml) through the real ASGI app, and their handshakes.

Each spec is proven twice: a delivery signed by an independent signer written here from the provider's
documentation (`INDEPENDENT`, never `SpecScheme.sign`) is accepted, and our own signer produces exactly the
same header. Then, for every spec: what `send` signs is accepted and published with the provider's id and
type, validated by the provider's payload model; a changed body, another secret and (timed schemes) a stale
or future signature are refused. Every handshake is walked with the method its provider uses.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import hmac
import re
import time
import urllib.parse
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from pathlib import Path

import httpx
import jwt
import orjson
import pytest

from receiver import sample_sender
from receiver.errors import SignatureError, StaleTimestamp
from receiver.sources import Source, load_sources, public_url_env_name, secret_env_name, verify_token_env_name
from receiver.specs import table_row
from receiver.verify import SpecScheme
from receiver.verify.providers import BUILT_IN_PROVIDERS, SPECS
from schemas import Envelope
from schemas.payloads import payload_model
from schemas.topics import HEADER_CE_SUBJECT
from tests.fakes import App, recording_app
from tests.repository import ROOT
from tests.unit.receiver.verify.proofs import GO_SDK_PROVEN, NODE_SDK_PROVEN, PYTHON_SDK_PROVEN

# Secrets that are keys in an encoding (Teams: base64) are given as the provider shows them.
SECRETS: dict[str, str] = {"teams": "dGVhbXMtc2VjdXJpdHktdG9rZW4=", "airtable": "YWlydGFibGUtbWFjLXNlY3JldA=="}
OTHER = "another-secret-entirely-32-bytes-or-more"
OTHER_B64 = "YW5vdGhlci1zZWNyZXQ="
VERIFY_TOKEN = "meta-verify-token-7f3a"
# Schemes that sign the URL they call need it configured.
TRELLO_URL = "https://hooks.example.com/webhooks/trello"
SQUARE_URL = "https://hooks.example.com/webhooks/square"
MANDRILL_URL = "https://hooks.example.com/webhooks/mandrill?team=agents"
PUBLIC_URLS = {"trello": TRELLO_URL, "square": SQUARE_URL, "mandrill": MANDRILL_URL}
# The delivery id of a provider that names each delivery in a header and requires it (not signed).
DELIVERY_HEADERS = {"shopify": {"X-Shopify-Webhook-Id": "b54557e4-bdd9-4b37-8a5f-bf7d70bcd043"}}


def secret_of(provider: str) -> str:
    # 32 bytes or more: PyJWT (the independent JWT signer) warns about shorter HS256 keys.
    return SECRETS.get(provider, f"{provider}-signing-secret-of-32-bytes-at-least")


def other_of(provider: str) -> str:
    return OTHER_B64 if SPECS[provider].signature.key == "base64" else OTHER


def _hex(secret: bytes, message: bytes, algorithm: str = "sha256") -> str:
    return hmac.new(secret, message, getattr(hashlib, algorithm)).hexdigest()


def _b64(secret: bytes, message: bytes, algorithm: str = "sha256") -> str:
    return base64.b64encode(hmac.new(secret, message, getattr(hashlib, algorithm)).digest()).decode()


# Independent signers, each written from the provider's documentation (named in receiver/specs/<name>.toml):
# (secret as configured, body, unix seconds) -> the headers the provider sends.
Independent = Callable[[bytes, bytes, int], dict[str, str]]


def _meta(secret: bytes, body: bytes, now: int) -> dict[str, str]:
    return {"X-Hub-Signature-256": "sha256=" + _hex(secret, body)}


def _rfc3339(now: int) -> str:
    return datetime.fromtimestamp(now, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _stamped(header: str, key: str, secret: bytes, body: bytes, stamp: str) -> dict[str, str]:
    """`t=<stamp>,<key>=<hex HMAC-SHA256(secret, "<stamp>.<body>")>`, Stripe's layout (Mux, WorkOS, ...)."""
    return {header: f"t={stamp},{key}=" + _hex(secret, f"{stamp}.".encode() + body)}


def _mandrill_signed(body: bytes) -> bytes:
    """Mandrill's documented signed data: the webhook URL, then each POST field name and value, names sorted."""
    fields = sorted(urllib.parse.parse_qsl(body.decode(), keep_blank_values=True))
    return (MANDRILL_URL + "".join(name + value for name, value in fields)).encode()


INDEPENDENT: dict[str, Independent] = {
    "whatsapp": _meta,
    "messenger": _meta,
    "instagram": _meta,
    "facebook": _meta,
    "telegram": lambda secret, body, now: {"X-Telegram-Bot-Api-Secret-Token": secret.decode()},
    "zoom": lambda secret, body, now: {
        "x-zm-request-timestamp": str(now),
        "x-zm-signature": "v0=" + _hex(secret, f"v0:{now}:".encode() + body),
    },
    "dropbox": lambda secret, body, now: {"X-Dropbox-Signature": _hex(secret, body)},
    "okta": lambda secret, body, now: {"Authorization": secret.decode()},
    "asana": lambda secret, body, now: {"X-Hook-Signature": _hex(secret, body)},
    "twitter": lambda secret, body, now: {"x-twitter-webhooks-signature": "sha256=" + _b64(secret, body)},
    "xero": lambda secret, body, now: {"x-xero-signature": _b64(secret, body)},
    "cloudevents": lambda secret, body, now: {"Authorization": "Bearer " + secret.decode()},
    "teams": lambda secret, body, now: {"Authorization": "HMAC " + _b64(base64.b64decode(secret), body)},
    "sentry": lambda secret, body, now: {"Sentry-Hook-Signature": _hex(secret, body)},
    "vercel": lambda secret, body, now: {"x-vercel-signature": _hex(secret, body, "sha1")},
    "bitbucket": lambda secret, body, now: {"X-Hub-Signature": "sha256=" + _hex(secret, body)},
    "gitea": lambda secret, body, now: {"X-Gitea-Signature": _hex(secret, body)},
    "coinbase": lambda secret, body, now: {"X-CC-Webhook-Signature": _hex(secret, body)},
    "razorpay": lambda secret, body, now: {"X-Razorpay-Signature": _hex(secret, body)},
    "lemonsqueezy": lambda secret, body, now: {"X-Signature": _hex(secret, body)},
    "mux": lambda secret, body, now: _stamped("Mux-Signature", "v1", secret, body, str(now)),
    "workos": lambda secret, body, now: {
        "WorkOS-Signature": f"t={now * 1000}, v1=" + _hex(secret, f"{now * 1000}.".encode() + body)
    },
    "persona": lambda secret, body, now: _stamped("Persona-Signature", "v1", secret, body, str(now)),
    "elevenlabs": lambda secret, body, now: _stamped("ElevenLabs-Signature", "v0", secret, body, str(now)),
    "retell": lambda secret, body, now: {
        "X-Retell-Signature": f"v={now * 1000},d=" + _hex(secret, body + str(now * 1000).encode())
    },
    "zendesk": lambda secret, body, now: {
        "X-Zendesk-Webhook-Signature-Timestamp": _rfc3339(now),
        "X-Zendesk-Webhook-Signature": _b64(secret, _rfc3339(now).encode() + body),
    },
    "box": lambda secret, body, now: {
        "BOX-DELIVERY-TIMESTAMP": _rfc3339(now),
        "BOX-SIGNATURE-PRIMARY": _b64(secret, body + _rfc3339(now).encode()),
    },
    "trello": lambda secret, body, now: {"X-Trello-Webhook": _b64(secret, body + TRELLO_URL.encode(), "sha1")},
    "vapi": lambda secret, body, now: {"x-timestamp": str(now), "x-signature": _hex(secret, f"{now}.".encode() + body)},
    "vonage": lambda secret, body, now: {
        "Authorization": "Bearer "
        + jwt.encode({"iat": now, "jti": "vonage-1", "payload_hash": hashlib.sha256(body).hexdigest()}, secret, "HS256")
    },
    "monday": lambda secret, body, now: {
        "Authorization": jwt.encode({"iat": now, "exp": now + 60, "accountId": 1825529}, secret, "HS256")
    },
    "docusign": lambda secret, body, now: {"X-DocuSign-Signature-1": _b64(secret, body)},
    "woocommerce": lambda secret, body, now: {"X-WC-Webhook-Signature": _b64(secret, body)},
    "circleci": lambda secret, body, now: {"circleci-signature": "v1=" + _hex(secret, body)},
    "launchdarkly": lambda secret, body, now: {"X-LD-Signature": _hex(secret, body)},
    "heroku": lambda secret, body, now: {"Heroku-Webhook-Hmac-SHA256": _b64(secret, body)},
    "buildkite": lambda secret, body, now: {
        "X-Buildkite-Signature": f"timestamp={now},signature=" + _hex(secret, f"{now}.".encode() + body)
    },
    "webflow": lambda secret, body, now: {
        "x-webflow-timestamp": str(now * 1000),
        "x-webflow-signature": _hex(secret, f"{now * 1000}:".encode() + body),
    },
    "postmark": lambda secret, body, now: {"Authorization": "Basic " + base64.b64encode(secret).decode()},
    "mandrill": lambda secret, body, now: {"X-Mandrill-Signature": _b64(secret, _mandrill_signed(body), "sha1")},
    "notion": lambda secret, body, now: {"X-Notion-Signature": "sha256=" + _hex(secret, body)},
    "segment": lambda secret, body, now: {"X-Signature": _hex(secret, body, "sha1")},
    "tiktok": lambda secret, body, now: {"TikTok-Signature": f"t={now},s=" + _hex(secret, f"{now}.".encode() + body)},
    "frameio": lambda secret, body, now: {
        "X-Frameio-Request-Timestamp": str(now),
        "X-Frameio-Signature": "v0=" + _hex(secret, f"v0:{now}:".encode() + body),
    },
    "airtable": lambda secret, body, now: {
        "X-Airtable-Content-MAC": "hmac-sha256=" + _hex(base64.b64decode(secret), body)
    },
    "typeform": lambda secret, body, now: {"Typeform-Signature": "sha256=" + _b64(secret, body)},
    "calendly": lambda secret, body, now: _stamped("Calendly-Webhook-Signature", "v1", secret, body, str(now)),
    "paddle": lambda secret, body, now: {"Paddle-Signature": f"ts={now};h1=" + _hex(secret, f"{now}:".encode() + body)},
    "shopify": lambda secret, body, now: {"X-Shopify-Hmac-Sha256": _b64(secret, body)},
    "square": lambda secret, body, now: {"X-Square-HmacSha256-Signature": _b64(secret, SQUARE_URL.encode() + body)},
    "pagerduty": lambda secret, body, now: {"X-PagerDuty-Signature": "v1=" + _hex(secret, body)},
    "intercom": lambda secret, body, now: {"X-Hub-Signature": "sha1=" + _hex(secret, body, "sha1")},
    "jira": lambda secret, body, now: {"X-Hub-Signature": "sha256=" + _hex(secret, body)},
}


def test_every_spec_has_an_independent_signer_a_reference_a_proof_and_a_sample() -> None:
    missing = sorted(set(SPECS) - set(INDEPENDENT))
    assert missing == [], f"specs without an independent signer here: {missing}"
    incomplete = sorted(name for name, spec in SPECS.items() if not (spec.reference and spec.proof and spec.sample))
    assert incomplete == []


def _environ(provider: str, secrets: str | None, environ: dict[str, str]) -> dict[str, str]:
    env = {secret_env_name(provider): secrets or secret_of(provider), **environ}
    if provider in PUBLIC_URLS:
        env[public_url_env_name(provider)] = PUBLIC_URLS[provider]
    return env


def _source(provider: str, secrets: str | None = None, **environ: str) -> Source:
    env = _environ(provider, secrets, environ)
    return load_sources(env, sources_file=None, tolerance_s=300)[provider]


def _lower(headers: dict[str, str]) -> dict[bytes, bytes]:
    return {name.lower().encode(): value.encode() for name, value in headers.items()}


@contextlib.asynccontextmanager
async def serving(provider: str, secrets: str | None = None, **environ: str) -> AsyncIterator[App]:
    env = _environ(provider, secrets, environ)
    sources = load_sources(env, sources_file=None, tolerance_s=300)
    async with recording_app(sources) as app:
        yield app


async def deliver(app: App, provider: str, request: sample_sender.SignedRequest) -> httpx.Response:
    return await app.http.request(
        request.method, f"/webhooks/{provider}", content=request.body, headers=request.headers, params=request.query
    )


def _accepted(provider: str) -> int:
    ack = SPECS[provider].ack
    return 202 if ack is None else ack.status


# Two JWT signers choose their own claims: an independent JWT is checked for acceptance instead.
DETERMINISTIC = sorted(name for name, spec in SPECS.items() if spec.signature.kind != "jwt")


@pytest.mark.parametrize("provider", DETERMINISTIC)
def test_our_signer_matches_the_independent_one(provider: str) -> None:
    source = _source(provider)
    now = int(time.time())
    request = sample_sender.sign(source, None, None, now)
    ours = {name.lower(): value for name, value in request.headers.items()}
    theirs = {
        name.lower(): value for name, value in INDEPENDENT[provider](source.secrets[0], request.body, now).items()
    }
    assert {name: ours.get(name) for name in theirs} == theirs


@pytest.mark.parametrize("provider", sorted(SPECS))
async def test_an_independently_signed_delivery_is_accepted(provider: str) -> None:
    source = _source(provider)
    assert isinstance(source.scheme, SpecScheme)
    now = int(time.time())
    sample = source.scheme.sample(now, event_id="evt_independent_1", event_type=None)
    body = sample.body
    headers = {
        "content-type": sample.content_type,
        **DELIVERY_HEADERS.get(provider, {}),
        **INDEPENDENT[provider](source.secrets[0], body, now),
    }
    async with serving(provider) as app:
        response = await app.http.post(f"/webhooks/{provider}", content=body, headers=headers)
        assert response.status_code == _accepted(provider), response.text
        assert len(app.publisher.records) == 1


@pytest.mark.parametrize("provider", sorted(SPECS))
async def test_a_sent_sample_is_published_with_the_providers_id_and_type(provider: str) -> None:
    source = _source(provider)
    request = sample_sender.sign(source, None, None, time.time())
    async with serving(provider) as app:
        response = await deliver(app, provider, request)
        assert response.status_code == _accepted(provider), response.text
        [(topic, key, value, headers)] = app.publisher.records
        envelope = Envelope.from_bytes(value)
        assert (topic, envelope.provider, key) == (f"webhooks.{provider}", provider, envelope.id.encode())
        spec = SPECS[provider]
        # Where the spec names the event's subject, the sample has one, and it is the record's ce_subject.
        subjects = [value for name, value in headers if name == HEADER_CE_SUBJECT]
        assert len(subjects) == (1 if spec.event.subject else 0)
        assert spec.sample is not None
        assert envelope.type == spec.sample.type
        model = payload_model(provider)
        assert model is not None, f"{provider} has no payload model"
        model.model_validate(envelope.payload)
        labels = {"source": provider, "provider": provider, "outcome": "accepted"}
        assert app.sample("webhooks_received_total", labels) == 1


@pytest.mark.parametrize("provider", sorted(SPECS))
async def test_a_changed_body_or_another_secret_is_refused(provider: str) -> None:
    source = _source(provider)
    other = _source(provider, other_of(provider))
    signed = sample_sender.sign(source, None, None, time.time())
    forged = sample_sender.sign(other, signed.body, None, time.time())
    middle = len(signed.body) // 2
    tampered = sample_sender.SignedRequest(
        signed.body[:middle] + bytes([signed.body[middle] ^ 1]) + signed.body[middle + 1 :], signed.headers
    )
    sig = SPECS[provider].signature
    # A token, Basic credentials, or a JWT without a body hash (monday) sign no body: TLS protects it.
    token = sig.kind in ("token", "basic") or (sig.kind == "jwt" and sig.body_hash_claim is None)
    async with serving(provider) as app:
        assert (await deliver(app, provider, forged)).status_code == 401
        if not token:
            assert (await deliver(app, provider, tampered)).status_code == 401
        assert app.publisher.records == []


TIMED = sorted(name for name, spec in SPECS.items() if spec.signature.timed)


@pytest.mark.parametrize("provider", TIMED)
@pytest.mark.parametrize(("skew_s", "reason"), [(-3600, "stale_timestamp"), (3600, "future_timestamp")])
async def test_a_stale_or_future_signature_is_refused(provider: str, skew_s: int, reason: str) -> None:
    request = sample_sender.sign(_source(provider), None, None, time.time() + skew_s)
    async with serving(provider) as app:
        response = await deliver(app, provider, request)
        assert (response.status_code, response.json()) == (401, {"error": "stale_timestamp"})
        assert app.sample("webhooks_signature_failures_total", {"source": provider, "reason": reason}) == 1
        assert app.publisher.records == []


@pytest.mark.parametrize("provider", sorted(SPECS))
async def test_the_second_of_two_secrets_is_accepted(provider: str) -> None:
    request = sample_sender.sign(_source(provider), None, None, time.time())
    async with serving(provider, f"{other_of(provider)},{secret_of(provider)}") as app:
        assert (await deliver(app, provider, request)).status_code == _accepted(provider)
        assert app.sample("webhooks_secret_matches_total", {"source": provider, "secret": "1"}) == 1


# ---------------------------------------------------------------------------------------------- handshakes


def _answered(app: App, provider: str) -> float:
    return app.sample("webhooks_received_total", {"source": provider, "provider": provider, "outcome": "handshake"})


@pytest.mark.parametrize("provider", ["whatsapp", "messenger", "instagram", "facebook"])
async def test_meta_get_challenge_is_echoed_only_for_our_verify_token(provider: str) -> None:
    query = {"hub.mode": "subscribe", "hub.verify_token": VERIFY_TOKEN, "hub.challenge": "1158201444"}
    async with serving(provider, **{verify_token_env_name(provider): VERIFY_TOKEN}) as app:
        response = await app.http.get(f"/webhooks/{provider}", params=query)
        assert (response.status_code, response.text) == (200, "1158201444")
        assert response.headers["content-type"].startswith("text/plain")
        wrong = await app.http.get(f"/webhooks/{provider}", params={**query, "hub.verify_token": "guess"})
        assert (wrong.status_code, wrong.json()) == (403, {"error": "forbidden"})
        assert _answered(app, provider) == 1
        assert app.publisher.records == []
    async with serving(provider) as app:  # no verify token configured: nobody's challenge is answered
        assert (await app.http.get(f"/webhooks/{provider}", params=query)).status_code == 403


async def test_send_walks_the_meta_handshake() -> None:
    source = _source("whatsapp", **{verify_token_env_name("whatsapp"): VERIFY_TOKEN})
    async with serving("whatsapp", **{verify_token_env_name("whatsapp"): VERIFY_TOKEN}) as app:
        response = await deliver(app, "whatsapp", sample_sender.handshake(source, "meta", time.time()))
        assert (response.status_code, response.text) == (200, "1158201444")


async def test_dropbox_challenge_is_echoed_as_text_with_nosniff() -> None:
    async with serving("dropbox") as app:
        response = await app.http.get("/webhooks/dropbox", params={"challenge": "c2b0e8b7-abc"})
        assert (response.status_code, response.text) == (200, "c2b0e8b7-abc")
        assert response.headers["x-content-type-options"] == "nosniff"
        assert (await app.http.get("/webhooks/dropbox")).status_code == 400
        assert _answered(app, "dropbox") == 1


async def test_twitter_crc_answers_the_keyed_response_token() -> None:
    secret = secret_of("twitter").encode()
    async with serving("twitter") as app:
        response = await app.http.get("/webhooks/twitter", params={"crc_token": "crc-abc"})
        expected = "sha256=" + _b64(secret, b"crc-abc")
        assert (response.status_code, response.json()) == (200, {"response_token": expected})


async def test_okta_verification_is_answered_only_with_the_secret() -> None:
    challenge = {"X-Okta-Verification-Challenge": "2mqmMr8gPNhKHWRv9Hz8TJz1TnF1"}
    async with serving("okta") as app:
        signed = await app.http.get("/webhooks/okta", headers={**challenge, "Authorization": secret_of("okta")})
        assert (signed.status_code, signed.json()) == (200, {"verification": "2mqmMr8gPNhKHWRv9Hz8TJz1TnF1"})
        unsigned = await app.http.get("/webhooks/okta", headers=challenge)
        assert unsigned.status_code == 401
        assert _answered(app, "okta") == 1


async def test_zoom_url_validation_is_answered_only_when_signed() -> None:
    source = _source("zoom")
    request = sample_sender.handshake(source, "zoom", time.time())
    plain = orjson.loads(request.body)["payload"]["plainToken"]
    async with serving("zoom") as app:
        response = await deliver(app, "zoom", request)
        expected = {"plainToken": plain, "encryptedToken": _hex(source.secrets[0], plain.encode())}
        assert (response.status_code, response.json()) == (200, expected)
        forged = sample_sender.handshake(_source("zoom", OTHER), "zoom", time.time())
        assert (await deliver(app, "zoom", forged)).status_code == 401
        assert _answered(app, "zoom") == 1
        assert app.publisher.records == []


async def test_asana_hook_secret_is_echoed() -> None:
    async with serving("asana") as app:
        response = await app.http.post("/webhooks/asana", headers={"X-Hook-Secret": "b537207f20cbfa02357cf448134da559"})
        assert (response.status_code, response.headers["x-hook-secret"]) == (200, "b537207f20cbfa02357cf448134da559")
        assert app.publisher.records == []


async def test_xero_intent_to_receive_is_200_when_signed_and_401_when_not() -> None:
    source = _source("xero")
    async with serving("xero") as app:
        good = await deliver(app, "xero", sample_sender.handshake(source, "empty_batch", time.time()))
        assert (good.status_code, good.content) == (200, b"")
        bad = sample_sender.handshake(_source("xero", OTHER), "empty_batch", time.time())
        assert (await deliver(app, "xero", bad)).status_code == 401
        assert app.publisher.records == []


async def test_msgraph_validation_token_is_echoed_as_text_before_any_clientstate() -> None:
    async with serving("msgraph", "graph-client-state") as app:
        token = "Validation: Testing client application reachability for subscription Request-Id: 5ed6"
        response = await app.http.post("/webhooks/msgraph", params={"validationToken": token})
        assert (response.status_code, response.text) == (200, token)
        assert response.headers["content-type"].startswith("text/plain")
        assert _answered(app, "msgraph") == 1
        assert app.publisher.records == []


async def test_monday_challenge_is_echoed() -> None:
    async with serving("monday") as app:
        response = await app.http.post("/webhooks/monday", json={"challenge": "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmd"})
        assert (response.status_code, response.json()) == (200, {"challenge": "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmd"})
        assert app.publisher.records == []


async def test_a_vonage_jwt_for_another_body_is_refused() -> None:
    secret = secret_of("vonage").encode()
    claims = {"iat": int(time.time()), "payload_hash": hashlib.sha256(b'{"other":1}').hexdigest()}
    headers = {"Authorization": "Bearer " + jwt.encode(claims, secret, "HS256"), "content-type": "application/json"}
    async with serving("vonage") as app:
        response = await app.http.post("/webhooks/vonage", content=b'{"message_uuid":"m-1"}', headers=headers)
        assert response.status_code == 401
        assert app.publisher.records == []


async def test_trello_head_check_is_answered_200() -> None:
    async with serving("trello") as app:
        response = await app.http.head("/webhooks/trello")
        assert (response.status_code, response.content) == (200, b"")
        assert _answered(app, "trello") == 1


async def test_cloudevents_options_handshake_allows_the_origin() -> None:
    async with serving("cloudevents") as app:
        response = await app.http.options(
            "/webhooks/cloudevents", headers={"WebHook-Request-Origin": "eventemitter.example.com"}
        )
        assert response.status_code == 200
        assert response.headers["webhook-allowed-origin"] == "eventemitter.example.com"
        assert response.headers["webhook-allowed-rate"] == "*"


@pytest.mark.parametrize(("provider", "method"), [("zoom", "GET"), ("telegram", "GET"), ("whatsapp", "OPTIONS")])
async def test_a_method_no_handshake_needs_is_405(provider: str, method: str) -> None:
    async with serving(provider) as app:
        response = await app.http.request(method, f"/webhooks/{provider}")
        assert response.status_code == 405
        assert "POST" in response.headers["allow"]


def test_a_declared_spec_in_the_sources_file_verifies(tmp_path: Path) -> None:
    path = tmp_path / "sources.toml"
    path.write_text(
        "[sources.acme]\n"
        '[sources.acme.signature]\nheader = "Acme-Signature"\nformat = "items"\ntimestamp_key = "t"\n'
        'signed = "{timestamp}.{body}"\n'
        '[sources.acme.event]\nid = ["body:uid"]\ntype = ["body:kind"]\n'
        '[[sources.acme.handshakes]]\nkind = "query"\nparam = "challenge"\n'
    )
    sources = load_sources({"WEBHOOK_SECRET_ACME": "acme-key"}, sources_file=path, tolerance_s=300)
    acme = sources["acme"]
    body = b'{"uid":"u-1","kind":"thing.made"}'
    now = int(time.time())
    headers = {"Acme-Signature": f"t={now},v1={_hex(b'acme-key', f'{now}.'.encode() + body)}"}
    assert acme.scheme.verify(_lower(headers), body, acme.secrets, now) == 0
    described = acme.scheme.describe("acme", _lower({"content-type": "application/json"}), body)
    assert (described.id, described.type, acme.topic) == ("u-1", "thing.made", "webhooks.acme")
    assert [h.kind for h in acme.handshakes] == ["query"]


def test_the_docs_list_every_provider_and_every_spec_row_is_the_generated_one() -> None:
    page = (ROOT / "docs" / "providers.md").read_text(encoding="utf-8")
    stale = sorted(name for name, spec in SPECS.items() if table_row(spec) not in page)
    assert stale == [], "docs/providers.md: regenerate these rows with receiver.specs.table_row"
    listed = set(re.findall(r"^\| `([a-z0-9_-]+)`", page, flags=re.MULTILINE))
    listed |= {
        name
        for row in re.findall(r"^\| (`[a-z0-9_-]+`(?:, `[a-z0-9_-]+`)+) \|", page, flags=re.MULTILINE)
        for name in re.findall(r"`([a-z0-9_-]+)`", row)
    }
    assert sorted(set(BUILT_IN_PROVIDERS) - listed) == []


async def test_a_monday_jwt_is_accepted_bare_or_as_a_bearer_token() -> None:
    # monday's docs show the JWT alone in Authorization; a "Bearer " scheme before it is the same token.
    secret = secret_of("monday").encode()
    token = jwt.encode({"iat": int(time.time()), "exp": int(time.time()) + 60}, secret, "HS256")
    body = b'{"event":{"type":"create_item","triggerUuid":"t-1","triggerTime":"2026-11-30T10:00:00Z"}}'
    async with serving("monday") as app:
        for authorization in (token, f"Bearer {token}", f"bearer  {token}"):
            headers = {"Authorization": authorization, "content-type": "application/json"}
            response = await app.http.post("/webhooks/monday", content=body, headers=headers)
            assert response.status_code == 202, authorization[:12]
        assert len(app.publisher.records) == 3


def test_persona_rotation_sends_space_separated_pairs_and_either_may_match() -> None:
    # Persona's docs ("Webhooks: best practices"): while a secret rotates, Persona-Signature carries one
    # `t=…,v1=…` pair per secret, separated by a space; the delivery is good if any v1 matches.
    source = _source("persona")
    now = int(time.time())
    body = b'{"data":{"type":"event","id":"evt_rotated","attributes":{"name":"inquiry.completed"}}}'
    ours = _stamped("Persona-Signature", "v1", source.secrets[0], body, str(now))["Persona-Signature"]
    theirs = _stamped("Persona-Signature", "v1", b"the-old-secret", body, str(now))["Persona-Signature"]
    for header in (f"{ours} {theirs}", f"{theirs} {ours}"):
        assert source.scheme.verify(_lower({"Persona-Signature": header}), body, source.secrets, now) == 0


@pytest.mark.parametrize("unit_ms", [1, 1000])
def test_vapi_timestamps_in_seconds_or_milliseconds_are_both_read(unit_ms: int) -> None:
    source = _source("vapi")
    body = b'{"message":{"type":"status-update"}}'
    stamp = str(int(time.time() * unit_ms))
    headers = {"x-timestamp": stamp, "x-signature": _hex(source.secrets[0], f"{stamp}.".encode() + body)}
    assert source.scheme.verify(_lower(headers), body, source.secrets, time.time()) == 0
    stale = str(int((time.time() - 3600) * unit_ms))
    headers = {"x-timestamp": stale, "x-signature": _hex(source.secrets[0], f"{stale}.".encode() + body)}
    with pytest.raises(StaleTimestamp):
        source.scheme.verify(_lower(headers), body, source.secrets, time.time())


# How a spec is proven, strongest first: the provider's own SDK signs or verifies in a test; the provider's
# published test vector; the provider's documented worked example; the documented algorithm only.
PROOF_KINDS = ("SDK:", "vector:", "example:", "docs:")


def test_every_proof_says_its_kind_and_every_sdk_proof_is_a_test_running_that_sdk() -> None:
    assert sorted(name for name, spec in SPECS.items() if not spec.proof.startswith(PROOF_KINDS)) == []
    proven = {**PYTHON_SDK_PROVEN, **NODE_SDK_PROVEN, **GO_SDK_PROVEN}
    claimed = {name for name, spec in SPECS.items() if spec.proof.startswith("SDK:")}
    assert claimed == set(proven)
    assert sorted(name for name in claimed if proven[name] not in SPECS[name].proof) == []


async def test_notion_verification_request_is_answered_and_not_published() -> None:
    # Notion's first POST to a new subscription carries only the verification token (unsigned: it is the
    # key to be); it is answered 200 and never published. A signed event of the same shape is not this.
    body = b'{"verification_token":"secret_tMrlL1qK5vuQAh1b6cZGhFChZTSYJlce98V0pYn7yBl"}'
    async with serving("notion") as app:
        response = await app.http.post("/webhooks/notion", content=body, headers={"content-type": "application/json"})
        assert (response.status_code, response.json()) == (200, orjson.loads(body))
        assert _answered(app, "notion") == 1
        assert app.publisher.records == []


@pytest.mark.parametrize("provider", ["telegram", "okta", "cloudevents"])
def test_a_token_is_compared_as_sent_whatever_its_case(provider: str) -> None:
    # Telegram's secret_token is any of A-Z a-z 0-9 _ -: the header must equal it exactly, case included.
    source = _source(provider, "Mixed-Case_Token-7Qx")
    headers = _lower(INDEPENDENT[provider](b"Mixed-Case_Token-7Qx", b"{}", int(time.time())))
    assert source.scheme.verify(headers, b"{}", source.secrets, time.time()) == 0
    lowered = {name: value.lower() for name, value in headers.items()}
    with pytest.raises(SignatureError):
        source.scheme.verify(lowered, b"{}", source.secrets, time.time())


def test_most_specs_name_their_events_subject() -> None:
    # CloudEvents `subject` (ce_subject): what the event is about (a repository, a call, a page), where the
    # provider's payload names it by a string; the rest have none or only a number.
    without = sorted(name for name, spec in SPECS.items() if not spec.event.subject)
    assert without == [
        "dropbox",
        "heroku",
        "launchdarkly",
        "mandrill",
        "monday",
        "okta",
        "telegram",
        "vonage",
        "woocommerce",
    ]
