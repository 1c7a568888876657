"""Every provider handshake over real HTTP: the receiver under uvicorn with the real Kafka publisher, each
handshake sent as its provider sends it (`sample_sender.handshake`) by a real HTTP client and answered as the
provider expects; none is published (the topic they all share holds only the one real event sent after
them), each is counted, and a method no handshake of the source uses stays 405.
"""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import hmac
import time
from collections.abc import Callable

import httpx
import orjson
from prometheus_client import CollectorRegistry

from receiver import sample_sender
from receiver.app import create_app
from receiver.settings import ReceiverSettings
from receiver.sources import Source, load_sources, public_url_env_name, secret_env_name, verify_token_env_name
from schemas import Envelope
from tests.integration.kafka_tools import read_topic, serving
from tests.signing import slack_headers

VERIFY_TOKEN = "meta-verify-token-7f3a"
SECRETS = {
    "teams": "dGVhbXMtc2VjdXJpdHktdG9rZW4=",
    "adyen": "44782DEF547AAA06C910C43932B1EB0C71FC68D9D0C057550C48EC2ACF6BA056",
}
PUBLIC_URLS = {
    "trello": "https://hooks.example.com/webhooks/trello",
    "mandrill": "https://hooks.example.com/webhooks/mandrill",
}
# Every built-in source with a handshake of its own kind (Slack's and Adyen's are its code's).
HANDSHAKING = (
    "whatsapp",
    "messenger",
    "instagram",
    "facebook",
    "dropbox",
    "twitter",
    "okta",
    "zoom",
    "asana",
    "msgraph",
    "monday",
    "xero",
    "cloudevents",
    "trello",
    "mandrill",
    "notion",
)
METHODS = ("GET", "HEAD", "PUT", "PATCH", "DELETE", "OPTIONS")


def _sources(topic: str) -> dict[str, Source]:
    names = (*HANDSHAKING, "slack", "adyen")
    env = {secret_env_name(name): SECRETS.get(name, f"{name}-secret-of-32-bytes-at-least") for name in names}
    env |= {verify_token_env_name(name): VERIFY_TOKEN for name in ("whatsapp", "messenger", "instagram", "facebook")}
    env |= {public_url_env_name(name): url for name, url in PUBLIC_URLS.items()}
    loaded = load_sources(env, sources_file=None, tolerance_s=300)
    return {name: dataclasses.replace(loaded[name], topic=topic) for name in names}


def _hmac(secret: bytes, message: bytes) -> bytes:
    return hmac.new(secret, message, hashlib.sha256).digest()


# What each kind of handshake must answer, given the request sent and the source's secret.
Check = Callable[[sample_sender.SignedRequest, httpx.Response, bytes], None]


def _text(param: str) -> Check:
    def check(request: sample_sender.SignedRequest, response: httpx.Response, secret: bytes) -> None:
        assert response.text == request.query[param]
        assert response.headers["content-type"].startswith("text/plain")

    return check


def _query(request: sample_sender.SignedRequest, response: httpx.Response, secret: bytes) -> None:
    _text("challenge")(request, response, secret)
    assert response.headers["x-content-type-options"] == "nosniff"


def _crc(request: sample_sender.SignedRequest, response: httpx.Response, secret: bytes) -> None:
    token = base64.b64encode(_hmac(secret, request.query["crc_token"].encode())).decode()
    assert response.json() == {"response_token": f"sha256={token}"}


def _okta(request: sample_sender.SignedRequest, response: httpx.Response, secret: bytes) -> None:
    assert response.json() == {"verification": httpx.Headers(request.headers)["X-Okta-Verification-Challenge"]}


def _zoom(request: sample_sender.SignedRequest, response: httpx.Response, secret: bytes) -> None:
    plain = orjson.loads(request.body)["payload"]["plainToken"]
    assert response.json() == {"plainToken": plain, "encryptedToken": _hmac(secret, plain.encode()).hex()}


def _hook_secret(request: sample_sender.SignedRequest, response: httpx.Response, secret: bytes) -> None:
    assert response.headers["x-hook-secret"] == httpx.Headers(request.headers)["X-Hook-Secret"]


def _challenge(request: sample_sender.SignedRequest, response: httpx.Response, secret: bytes) -> None:
    # monday's `challenge`, Notion's `verification_token`: the JSON sent, echoed.
    assert response.json() == orjson.loads(request.body)


def _empty(request: sample_sender.SignedRequest, response: httpx.Response, secret: bytes) -> None:
    assert response.content == b""


def _cloudevents(request: sample_sender.SignedRequest, response: httpx.Response, secret: bytes) -> None:
    assert response.headers["webhook-allowed-origin"] == httpx.Headers(request.headers)["WebHook-Request-Origin"]
    assert response.headers["webhook-allowed-rate"] == "*"


CHECKS: dict[str, Check] = {
    "meta": _text("hub.challenge"),
    "query": _query,
    "crc": _crc,
    "header": _okta,
    "zoom": _zoom,
    "hook_secret": _hook_secret,
    "validation_token": _text("validationToken"),
    "challenge": _challenge,
    "empty_batch": _empty,
    "cloudevents": _cloudevents,
    "head": _empty,
}


async def _send(http: httpx.AsyncClient, name: str, request: sample_sender.SignedRequest) -> httpx.Response:
    return await http.request(
        request.method, f"/webhooks/{name}", content=request.body, headers=request.headers, params=request.query
    )


async def test_every_handshake_over_http_is_answered_counted_and_never_published(
    kafka_bootstrap: str, unique: str
) -> None:
    topic = f"it.{unique}.handshakes"
    sources = _sources(topic)
    settings = ReceiverSettings(kafka_bootstrap_servers=kafka_bootstrap, kafka_topic_partitions=1)
    registry = CollectorRegistry()
    app = create_app(settings, sources=sources, registry=registry)
    answered = 0
    async with serving(app) as url, httpx.AsyncClient(base_url=url, timeout=10) as http:
        for name in HANDSHAKING:
            source = sources[name]
            assert source.handshakes, name
            for rule in source.handshakes:
                request = sample_sender.handshake(source, rule.kind, time.time())
                response = await _send(http, name, request)
                assert response.status_code == 200, (name, rule.kind, response.text)
                CHECKS[rule.kind](request, response, source.secrets[0])
                answered += 1

        # Refused where the handshake is checked: Meta's verify token, Xero's intent to receive badly signed,
        # Zoom's validation and Okta's verification without the secret.
        query = {"hub.mode": "subscribe", "hub.verify_token": "a-guess", "hub.challenge": "1158201444"}
        assert (await http.get("/webhooks/whatsapp", params=query)).status_code == 403
        forged = dataclasses.replace(sources["xero"], secrets=(b"another-webhook-key",))
        assert (
            await _send(http, "xero", sample_sender.handshake(forged, "empty_batch", time.time()))
        ).status_code == 401
        forged = dataclasses.replace(sources["zoom"], secrets=(b"another-secret-token",))
        assert (await _send(http, "zoom", sample_sender.handshake(forged, "zoom", time.time()))).status_code == 401
        unsigned = await http.get("/webhooks/okta", headers={"X-Okta-Verification-Challenge": "c-1"})
        assert unsigned.status_code == 401

        # Slack's url_verification (its scheme's code), signed as Slack signs it.
        challenge = b'{"token":"Jhj5dZrVaK7ZwHHjRyZWjbDl","challenge":"3eZbrw1aBm2rZgRNFdx","type":"url_verification"}'
        headers = slack_headers(challenge, sources["slack"].secrets[0].decode())
        response = await http.post("/webhooks/slack", content=challenge, headers=headers)
        assert (response.status_code, response.json()) == (200, {"challenge": "3eZbrw1aBm2rZgRNFdx"})
        answered += 1

        # A method no handshake of the source uses is 405, with the methods it does answer.
        for name, source in sources.items():
            allowed = {"POST"} | {rule.method for rule in source.handshakes}
            for method in METHODS:
                if method not in allowed:
                    response = await http.request(method, f"/webhooks/{name}")
                    assert response.status_code == 405, (name, method)
                    assert set(response.headers["allow"].replace(" ", "").split(",")) >= allowed

        counted = sum(
            sample.value
            for metric in registry.collect()
            for sample in metric.samples
            if sample.name == "webhooks_received_total" and sample.labels["outcome"] == "handshake"
        )
        assert counted == answered

        # Then one real event, acknowledged as Adyen wants (`[accepted]`): the only record the topic holds.
        event = sample_sender.sign(sources["adyen"], None, None, time.time())
        response = await _send(http, "adyen", event)
        assert (response.status_code, response.text) == (200, "[accepted]")

    [record] = await read_topic(kafka_bootstrap, topic, expect=1)
    assert Envelope.from_bytes(record.value).provider == "adyen"
