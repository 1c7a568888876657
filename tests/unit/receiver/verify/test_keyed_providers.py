"""SNS, PayPal, Plaid and Pub/Sub through the real ASGI app, with their keys served by a real local HTTPS
server (tests/keyserver.py: a CA and certificates made here, no network).

For each: a valid delivery is published with the provider's id and type; a tampered one, one for another
topic / webhook / audience, and one naming a key URL off the allowlist are refused with 401 (the last
without any fetch); a key host failing, stalling or answering too much is a 503 with Retry-After, never a
500; a key is fetched once and then cached.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import time
from collections.abc import AsyncIterator, Callable, Iterator

import httpx
import orjson
import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from prometheus_client import CollectorRegistry

from receiver.app import create_app
from receiver.errors import ConfigError, KeyUnavailable
from receiver.settings import ReceiverSettings
from receiver.sources import Source, load_sources
from receiver.verify import PayPalScheme, PlaidScheme, PubSubScheme, SnsScheme
from receiver.verify.events import fallback_event_id
from receiver.verify.keys import KeyCache
from schemas import Envelope
from schemas.payloads import payload_model
from tests.fakes import App, RecordingPublisher, recording_app
from tests.keyed_signing import (
    AUDIENCE,
    AWS_KEY,
    GOOGLE_CERTS_PATH,
    GOOGLE_KEY,
    GOOGLE_ROTATED,
    OTHER_RSA,
    PAYPAL_CERT_PATH,
    PAYPAL_EVENT,
    PAYPAL_KEY,
    PLAID_EVENT,
    PLAID_KEY,
    PLAID_KEY_PATH,
    SNS_CERT_PATH,
    SNS_TOPIC,
    WEBHOOK_ID,
    google_certs,
    paypal_headers,
    plaid_headers,
    plaid_jwk,
    pubsub_body,
    pubsub_token,
    sns_body,
    sns_headers,
)
from tests.keyed_sources import keyed_sources, serve_keys
from tests.keyserver import KeyServer, running_key_server, signing_certificate


@pytest.fixture(scope="module")
def server() -> Iterator[KeyServer]:
    yield from running_key_server()


@pytest.fixture(autouse=True)
def _fresh_routes(server: KeyServer) -> None:
    serve_keys(server)
    server.seen.clear()


@contextlib.asynccontextmanager
async def serving(server: KeyServer, **fetcher_options: float) -> AsyncIterator[App]:
    """The receiver with the four keyed sources, fetching their keys from `server` only."""
    async with recording_app(keyed_sources(server, **fetcher_options)) as app:
        yield app


def valid(server: KeyServer, source: str) -> tuple[bytes, dict[str, str]]:
    if source == "sns":
        body = sns_body(AWS_KEY, server.url(SNS_CERT_PATH))
        return body, sns_headers(body)
    if source == "paypal":
        return PAYPAL_EVENT, paypal_headers(PAYPAL_EVENT, PAYPAL_KEY, server.url(PAYPAL_CERT_PATH), WEBHOOK_ID)
    if source == "plaid":
        return PLAID_EVENT, plaid_headers(PLAID_EVENT, PLAID_KEY, "k1")
    body = pubsub_body()
    return body, {
        "content-type": "application/json",
        "authorization": f"Bearer {pubsub_token(GOOGLE_KEY, 'g1', AUDIENCE)}",
    }


KEY_PATHS = {"sns": SNS_CERT_PATH, "paypal": PAYPAL_CERT_PATH, "plaid": PLAID_KEY_PATH, "pubsub": GOOGLE_CERTS_PATH}
EXPECTED = {
    "sns": (None, "Notification"),
    "paypal": ("WH-58D329510W468432D-8HN650336L201105X", "PAYMENT.CAPTURE.COMPLETED"),
    "plaid": (fallback_event_id("plaid", PLAID_EVENT), "TRANSACTIONS.SYNC_UPDATES_AVAILABLE"),
    "pubsub": ("136969346945", "pubsub.message"),
}
SOURCES = sorted(KEY_PATHS)


@pytest.mark.parametrize("source", SOURCES)
async def test_valid_delivery_is_published_and_its_key_fetched_once(server: KeyServer, source: str) -> None:
    async with serving(server) as app:
        for _ in range(2):
            body, headers = valid(server, source)
            response = await app.http.post(f"/webhooks/{source}", content=body, headers=headers)
            assert response.status_code == 202, response.text
        expected_id, expected_type = EXPECTED[source]
        topic, _, value, _ = app.publisher.records[0]
        envelope = Envelope.from_bytes(value)
        assert (topic, envelope.provider, envelope.type) == (f"webhooks.{source}", source, expected_type)
        assert envelope.id == (expected_id or envelope.payload["MessageId"])
        model = payload_model(source)
        assert model is not None
        model.model_validate(envelope.payload)
        assert server.hits(KEY_PATHS[source]) == 1
        assert app.sample("webhooks_secret_matches_total", {"source": source, "secret": "0"}) == 2


def tampered(server: KeyServer, source: str) -> tuple[bytes, dict[str, str]]:
    body, headers = valid(server, source)
    if source == "sns":
        document = orjson.loads(body)
        document["Message"] = document["Message"].replace("4200", "9900")
        return orjson.dumps(document), headers
    if source == "pubsub":
        # Google's token signs who sent the request and to whom, not the body (see the providers' limits):
        # what can be tampered with is the token.
        header, claims, signature = headers["authorization"].removeprefix("Bearer ").split(".")
        forged_claims = _b64(orjson.dumps({**orjson.loads(_unb64(claims)), "aud": "https://hooks.example.com/x"}))
        return body, {**headers, "authorization": f"Bearer {header}.{forged_claims}.{signature}"}
    return body.replace(b"COMPLETED", b"DECLINED").replace(b"SYNC_UPDATES", b"XYNC_UPDATES"), headers


def for_someone_else(server: KeyServer, source: str) -> tuple[bytes, dict[str, str]]:
    """Signed by the provider, but for another topic, webhook, audience or service account."""
    if source == "sns":
        body = sns_body(AWS_KEY, server.url(SNS_CERT_PATH), topic="arn:aws:sns:us-east-1:999999999999:attacker")
        return body, sns_headers(body)
    if source == "paypal":
        return PAYPAL_EVENT, paypal_headers(PAYPAL_EVENT, PAYPAL_KEY, server.url(PAYPAL_CERT_PATH), "OTHERWEBHOOK1")
    if source == "plaid":
        return PLAID_EVENT, plaid_headers(PLAID_EVENT, ec.generate_private_key(ec.SECP256R1()), "k1")
    token = pubsub_token(GOOGLE_KEY, "g1", AUDIENCE, email="someone@else.iam.gserviceaccount.com")
    return pubsub_body(), {"content-type": "application/json", "authorization": f"Bearer {token}"}


@pytest.mark.parametrize("source", SOURCES)
@pytest.mark.parametrize("forged", [tampered, for_someone_else])
async def test_a_tampered_delivery_or_one_for_another_topic_webhook_or_audience_is_refused(
    server: KeyServer, source: str, forged: Callable[[KeyServer, str], tuple[bytes, dict[str, str]]]
) -> None:
    async with serving(server) as app:
        body, headers = forged(server, source)
        response = await app.http.post(f"/webhooks/{source}", content=body, headers=headers)
        assert (response.status_code, response.json()) == (401, {"error": "invalid_signature"})
        assert app.publisher.records == []


@pytest.mark.parametrize(
    "url",
    [
        "https://127.0.0.1:{port}/cert.pem",  # the right server, not an allowed host name
        "http://localhost:{port}/cert.pem",  # not https
        "https://localhost:1/cert.pem",  # not the allowed port
        "https://localhost.evil.example:{port}/cert.pem",
        "https://evil.example#@localhost:{port}/cert.pem",
        "https://user@localhost:{port}/cert.pem",
        "https://localhost:{port}\\@evil.example/cert.pem",
        "ftp://localhost:{port}/cert.pem",
        "not a url",
    ],
)
@pytest.mark.parametrize("source", ["sns", "paypal"])
async def test_a_certificate_url_off_the_allowlist_is_refused_before_any_fetch(
    server: KeyServer, source: str, url: str
) -> None:
    url = url.format(port=server.port)
    server.serve("/cert.pem", signing_certificate(OTHER_RSA, "evil"))
    async with serving(server) as app:
        if source == "sns":
            body = sns_body(OTHER_RSA, url)
            headers = sns_headers(body)
        else:
            body, headers = PAYPAL_EVENT, paypal_headers(PAYPAL_EVENT, OTHER_RSA, url, WEBHOOK_ID)
        response = await app.http.post(f"/webhooks/{source}", content=body, headers=headers)
        assert (response.status_code, response.json()) == (401, {"error": "invalid_signature"})
        assert server.seen == []
        labels = {"source": source, "reason": "malformed_header"}
        assert app.sample("webhooks_signature_failures_total", labels) == 1


@pytest.mark.parametrize("source", SOURCES)
@pytest.mark.parametrize("failure", ["status_500", "stalled", "too_large", "not_a_key", "server_gone"])
async def test_a_failed_key_fetch_is_a_503_the_provider_retries(server: KeyServer, source: str, failure: str) -> None:
    path = KEY_PATHS[source]
    if failure == "status_500":
        server.serve(path, b"oops", status=500)
    elif failure == "stalled":
        server.serve(path, server.routes[path].body, delay_s=1.0)
    elif failure == "too_large":
        server.serve(path, b"x" * 70_000)
    elif failure == "not_a_key":
        server.serve(path, b'{"key": "surprise"}' if source == "plaid" else b"-----BEGIN NOTHING-----")
    # server_gone: a port nothing listens on, which the allowlist names: the connection is refused.
    target = KeyServer(port=1, ssl_client=server.ssl_client) if failure == "server_gone" else server
    body, headers = valid(target, source)
    async with serving(target, timeout_s=0.3) as app:
        started = time.perf_counter()
        response = await app.http.post(f"/webhooks/{source}", content=body, headers=headers)
        assert (response.status_code, response.json()) == (503, {"error": "unavailable"})
        assert response.headers["retry-after"] == "5"
        assert time.perf_counter() - started < 2.0
        assert app.publisher.records == []
        labels = {"source": source, "provider": source, "outcome": "unavailable"}
        assert app.sample("webhooks_received_total", labels) == 1


async def test_sns_signature_version_1_is_sha1_and_an_unknown_version_is_refused(server: KeyServer) -> None:
    async with serving(server) as app:
        body = sns_body(AWS_KEY, server.url(SNS_CERT_PATH), version="1", subject=None)
        response = await app.http.post("/webhooks/sns", content=body, headers=sns_headers(body))
        assert response.status_code == 202
        document = orjson.loads(body)
        document["SignatureVersion"] = "3"
        response = await app.http.post("/webhooks/sns", content=orjson.dumps(document), headers=sns_headers(body))
        assert (response.status_code, response.json()) == (401, {"error": "invalid_signature"})
        # Version 1's signature does not pass as version 2.
        document["SignatureVersion"] = "2"
        response = await app.http.post("/webhooks/sns", content=orjson.dumps(document), headers=sns_headers(body))
        assert response.status_code == 401


async def test_sns_subscription_is_confirmed_by_visiting_the_subscribe_url_and_not_published(
    server: KeyServer,
) -> None:
    confirm = "/?Action=ConfirmSubscription&TopicArn=arn:aws:sns:us-east-1:123456789012:agent-events&Token=2336"
    server.serve(confirm, b"<ConfirmSubscriptionResponse/>")
    async with serving(server) as app:
        body = sns_body(
            AWS_KEY, server.url(SNS_CERT_PATH), kind="SubscriptionConfirmation", subscribe_url=server.url(confirm)
        )
        response = await app.http.post("/webhooks/sns", content=body, headers=sns_headers(body))
        assert (response.status_code, response.json()) == (200, {"status": "confirmed"})
        assert server.hits(confirm) == 1
        assert app.publisher.records == []
        labels = {"source": "sns", "provider": "sns", "outcome": "handshake"}
        assert app.sample("webhooks_received_total", labels) == 1


async def test_sns_confirmation_for_another_topic_is_never_visited(server: KeyServer) -> None:
    confirm = "/?Action=ConfirmSubscription&Token=evil"
    async with serving(server) as app:
        body = sns_body(
            AWS_KEY,
            server.url(SNS_CERT_PATH),
            kind="SubscriptionConfirmation",
            subscribe_url=server.url(confirm),
            topic="arn:aws:sns:us-east-1:999999999999:attacker",
        )
        response = await app.http.post("/webhooks/sns", content=body, headers=sns_headers(body))
        assert response.status_code == 401
        assert server.hits(confirm) == 0


async def test_sns_confirmation_that_fails_to_confirm_is_a_503(server: KeyServer) -> None:
    confirm = "/?Action=ConfirmSubscription&Token=later"
    server.serve(confirm, b"busy", status=503)
    async with serving(server) as app:
        body = sns_body(
            AWS_KEY, server.url(SNS_CERT_PATH), kind="SubscriptionConfirmation", subscribe_url=server.url(confirm)
        )
        response = await app.http.post("/webhooks/sns", content=body, headers=sns_headers(body))
        assert (response.status_code, response.json()) == (503, {"error": "unavailable"})


async def test_paypal_stale_transmission_is_refused(server: KeyServer) -> None:
    async with serving(server) as app:
        for skew_s, reason in ((-3600, "stale_timestamp"), (3600, "future_timestamp")):
            headers = paypal_headers(
                PAYPAL_EVENT, PAYPAL_KEY, server.url(PAYPAL_CERT_PATH), WEBHOOK_ID, int(time.time()) + skew_s
            )
            response = await app.http.post("/webhooks/paypal", content=PAYPAL_EVENT, headers=headers)
            assert (response.status_code, response.json()) == (401, {"error": "stale_timestamp"})
            assert app.sample("webhooks_signature_failures_total", {"source": "paypal", "reason": reason}) == 1


async def test_plaid_refuses_a_stale_token_another_body_an_unknown_and_an_expired_key(server: KeyServer) -> None:
    expired_key = ec.generate_private_key(ec.SECP256R1())
    server.serve(PLAID_KEY_PATH, orjson.dumps({"key": plaid_jwk(PLAID_KEY, "k1")}))
    async with serving(server) as app:
        stale = plaid_headers(PLAID_EVENT, PLAID_KEY, "k1", issued_at=int(time.time()) - 301)
        response = await app.http.post("/webhooks/plaid", content=PLAID_EVENT, headers=stale)
        assert (response.status_code, response.json()) == (401, {"error": "stale_timestamp"})
        other_body = plaid_headers(PLAID_EVENT, PLAID_KEY, "k1", body_for_hash=b"{}")
        response = await app.http.post("/webhooks/plaid", content=PLAID_EVENT, headers=other_body)
        assert (response.status_code, response.json()) == (401, {"error": "invalid_signature"})
        # Plaid answers 400 for a key id it doesn't know: a made-up kid, so a 401, not a 503.
        server.serve(PLAID_KEY_PATH, b'{"error_code":"INVALID_WEBHOOK_VERIFICATION_KEY_ID"}', status=400)
        unknown = plaid_headers(PLAID_EVENT, PLAID_KEY, "made-up")
        response = await app.http.post("/webhooks/plaid", content=PLAID_EVENT, headers=unknown)
        assert (response.status_code, response.json()) == (401, {"error": "invalid_signature"})
        server.serve(PLAID_KEY_PATH, orjson.dumps({"key": plaid_jwk(expired_key, "old", expired=True)}))
        expired = plaid_headers(PLAID_EVENT, expired_key, "old")
        response = await app.http.post("/webhooks/plaid", content=PLAID_EVENT, headers=expired)
        assert (response.status_code, response.json()) == (401, {"error": "invalid_signature"})
        # What Plaid was asked: the documented request, with the key id of the token.
        asked = orjson.loads(server.seen[-1].body)
        assert asked == {"client_id": "client-1", "secret": "plaid-secret-1", "key_id": "old"}
        assert app.publisher.records == []


async def test_plaid_refuses_a_token_not_signed_with_es256(server: KeyServer) -> None:
    async with serving(server) as app:
        for header in (b'{"alg":"none","kid":"k1"}', b'{"alg":"HS256","kid":"k1"}'):
            token = _b64(header) + "." + _b64(b'{"iat":1}') + "."
            headers = {"content-type": "application/json", "plaid-verification": token + "c2ln"}
            response = await app.http.post("/webhooks/plaid", content=PLAID_EVENT, headers=headers)
            assert response.status_code == 401
        assert server.seen == []


async def test_pubsub_rotated_key_is_fetched_and_a_made_up_kid_cannot_force_refetches(server: KeyServer) -> None:
    async with serving(server) as app:
        body, headers = valid(server, "pubsub")
        assert (await app.http.post("/webhooks/pubsub", content=body, headers=headers)).status_code == 202
        # Google rotates: the new key id is only in a refetch of the certificates.
        rotated_certs = google_certs(
            {
                "g1": signing_certificate(GOOGLE_KEY, "accounts.google.com"),
                "g2": signing_certificate(GOOGLE_ROTATED, "accounts.google.com"),
            }
        )
        server.serve(GOOGLE_CERTS_PATH, rotated_certs)
        scheme = app.http._transport.app.webhooks._endpoints["pubsub"].source.scheme  # type: ignore[attr-defined]
        scheme.keys.clock = lambda: time.monotonic() + 120  # past the minimum age between refetches
        token = pubsub_token(GOOGLE_ROTATED, "g2", AUDIENCE)
        rotated = {"content-type": "application/json", "authorization": f"Bearer {token}"}
        response = await app.http.post("/webhooks/pubsub", content=pubsub_body("2"), headers=rotated)
        assert response.status_code == 202
        assert server.hits(GOOGLE_CERTS_PATH) == 2
        for n in range(5):
            forged = pubsub_token(OTHER_RSA, f"made-up-{n}", AUDIENCE)
            headers = {"content-type": "application/json", "authorization": f"Bearer {forged}"}
            response = await app.http.post("/webhooks/pubsub", content=pubsub_body("3"), headers=headers)
            assert response.status_code == 401
        assert server.hits(GOOGLE_CERTS_PATH) == 2


@pytest.mark.parametrize(
    ("claims", "status", "error"),
    [
        ({"issued_at": int(time.time()) - 7200}, 401, "stale_timestamp"),  # expired an hour ago
        ({"issuer": "https://evil.example"}, 401, "invalid_signature"),
        ({"email_verified": False}, 401, "invalid_signature"),
    ],
)
async def test_pubsub_token_claims_are_checked(
    server: KeyServer, claims: dict[str, object], status: int, error: str
) -> None:
    async with serving(server) as app:
        token = pubsub_token(GOOGLE_KEY, "g1", AUDIENCE, **claims)  # type: ignore[arg-type]
        headers = {"content-type": "application/json", "authorization": f"Bearer {token}"}
        response = await app.http.post("/webhooks/pubsub", content=pubsub_body(), headers=headers)
        assert (response.status_code, response.json()) == (status, {"error": error})


async def test_pubsub_source_without_a_service_account_checks_the_audience_only(server: KeyServer) -> None:
    scheme = PubSubScheme(fetcher=server.fetcher(), certs_url=server.url(GOOGLE_CERTS_PATH))
    sources = {"pubsub": Source(name="pubsub", scheme=scheme, secrets=(AUDIENCE.encode(),), topic="webhooks.pubsub")}
    publisher = RecordingPublisher()
    app = create_app(ReceiverSettings(), sources=sources, publisher=publisher, registry=CollectorRegistry())
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as http:
        token = pubsub_token(GOOGLE_KEY, "g1", AUDIENCE, email="any@x.iam.gserviceaccount.com")
        headers = {"content-type": "application/json", "authorization": f"Bearer {token}"}
        assert (await http.post("/webhooks/pubsub", content=pubsub_body(), headers=headers)).status_code == 202
        token = pubsub_token(GOOGLE_KEY, "g1", "https://other.example/push")
        headers = {"content-type": "application/json", "authorization": f"Bearer {token}"}
        assert (await http.post("/webhooks/pubsub", content=pubsub_body(), headers=headers)).status_code == 401


async def test_concurrent_requests_for_a_new_key_share_one_fetch(server: KeyServer) -> None:
    server.serve(SNS_CERT_PATH, server.routes[SNS_CERT_PATH].body, delay_s=0.2)
    async with serving(server) as app:
        bodies = [sns_body(AWS_KEY, server.url(SNS_CERT_PATH)) for _ in range(8)]
        responses = await asyncio.gather(
            *(app.http.post("/webhooks/sns", content=body, headers=sns_headers(body)) for body in bodies)
        )
        assert [response.status_code for response in responses] == [202] * 8
        assert server.hits(SNS_CERT_PATH) == 1


def test_the_production_allowlists_hold_only_the_providers_hosts() -> None:
    cases = {
        SnsScheme().fetcher.allowlist: (
            ["https://sns.us-east-1.amazonaws.com/SimpleNotificationService-abc.pem",
             "https://sns.cn-north-1.amazonaws.com.cn/SimpleNotificationService-abc.pem"],
            ["https://sns.us-east-1.amazonaws.com.evil.example/x.pem", "http://sns.us-east-1.amazonaws.com/x.pem",
             "https://s3.amazonaws.com/x.pem", "https://sns.us-east-1.amazonaws.com:8443/x.pem",
             "https://evil.example/sns.us-east-1.amazonaws.com/x.pem"],
        ),
        PayPalScheme().fetcher.allowlist: (
            ["https://api.paypal.com/v1/notifications/certs/CERT-1", "https://api.sandbox.paypal.com/v1/certs/C",
             "https://api-m.paypal.com/v1/certs/C", "https://api-m.sandbox.paypal.com/v1/certs/C"],
            ["https://paypal.com.evil.example/c", "https://evilpaypal.com/c", "https://www.paypal.com/c"],
        ),
        PlaidScheme().fetcher.allowlist: (
            ["https://production.plaid.com/webhook_verification_key/get"],
            ["https://development.plaid.com.evil.example/x", "https://plaid.com/x"],
        ),
        PubSubScheme().fetcher.allowlist: (
            ["https://www.googleapis.com/oauth2/v1/certs"],
            ["https://googleapis.com.evil.example/certs", "https://storage.googleapis.com/certs"],
        ),
    }  # fmt: skip
    for allowlist, (allowed, refused) in cases.items():
        for url in allowed:
            assert allowlist.check(url) == url
        for url in refused:
            with pytest.raises(Exception, match="key URL"):
                allowlist.check(url)


async def test_key_cache_serves_a_stale_key_while_its_refresh_fails_for_one_more_ttl() -> None:
    now = [0.0]
    cache: KeyCache[str, str] = KeyCache(ttl_s=10, clock=lambda: now[0])

    async def good() -> str:
        return "key"

    async def failing() -> str:
        raise KeyUnavailable("down")

    assert await cache.get("k", good) == "key"
    now[0] = 15.0
    assert await cache.get("k", failing) == "key"
    now[0] = 25.0
    with pytest.raises(KeyUnavailable):
        await cache.get("k", failing)


async def test_key_cache_limits_fetches_of_new_keys() -> None:
    now = [0.0]
    cache: KeyCache[str, str] = KeyCache(burst=3, interval_s=5, clock=lambda: now[0])

    async def fetch() -> str:
        return "key"

    for n in range(3):
        await cache.get(f"k{n}", fetch)
    with pytest.raises(KeyUnavailable):
        await cache.get("k3", fetch)
    now[0] = 5.0
    assert await cache.get("k3", fetch) == "key"
    assert await cache.get("k0", fetch) == "key"  # held: no fetch, no token


def test_the_real_sources_loader_enables_the_keyed_providers_with_checked_secrets() -> None:
    environ = {
        "WEBHOOK_SECRET_SNS": SNS_TOPIC,
        "WEBHOOK_SECRET_PAYPAL": WEBHOOK_ID,
        "WEBHOOK_SECRET_PLAID": "client-1:secret-1,sandbox:client-1:secret-2",
        "WEBHOOK_SECRET_PUBSUB": AUDIENCE,
    }
    sources = load_sources(environ, sources_file=None, tolerance_s=300)
    assert all(sources[name].fetches_keys for name in SOURCES)
    for name, bad in [("SNS", "not-an-arn"), ("PAYPAL", "has spaces"), ("PLAID", "nocolon"), ("PUBSUB", "|x")]:
        with pytest.raises(ConfigError, match=f"WEBHOOK_SECRET_{name}"):
            load_sources({f"WEBHOOK_SECRET_{name}": bad}, sources_file=None, tolerance_s=300)


def _b64(value: bytes) -> str:
    return base64.urlsafe_b64encode(value).rstrip(b"=").decode()


def _unb64(value: str) -> bytes:
    return base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))
