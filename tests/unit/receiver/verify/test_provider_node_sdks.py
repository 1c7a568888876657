"""Our verifiers and signers against providers' own Node SDKs (pinned in tests/sdks, installed by
`make node-deps`), for providers whose only published verifier is JavaScript.

Each test has the SDK check what `send` signs (so our signer is theirs) and, where the SDK can sign, our
verifier check what the SDK signs. A changed body or another secret must be refused by both. The providers
proven here are `NODE_SDK_PROVEN` in proofs.py; test_specs.py holds every spec's `proof` to it.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import time
from typing import Any

import orjson
import pytest

from receiver import sample_sender
from receiver.errors import SignatureError
from receiver.sources import Source, load_sources, secret_env_name
from receiver.verify.base import Inbound
from tests.repository import ROOT

SDKS = ROOT / "tests" / "sdks"


def node_sdk(call: str, **arguments: Any) -> dict[str, Any]:
    """The answer of tests/sdks/sdk.cjs to one call: {"ok": bool, "value" or "error"}."""
    answer: dict[str, Any] = _node({"call": call, **arguments})
    return answer


def node_sdk_calls(*calls: dict[str, Any]) -> list[dict[str, Any]]:
    """The answers to many calls, in one Node process."""
    answers: list[dict[str, Any]] = _node({"calls": list(calls)})
    assert len(answers) == len(calls)
    return answers


def _node(request: dict[str, Any]) -> Any:
    node = shutil.which("node")
    if node is None or not (SDKS / "node_modules" / ".installed").is_file():
        pytest.fail("the providers' Node SDKs are missing: run `make node-deps` (needs Node 20+ and npm)")
    done = subprocess.run(
        [node, str(SDKS / "sdk.cjs")],
        input=json.dumps(request),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def _source(provider: str, secret: str) -> Source:
    return load_sources({secret_env_name(provider): secret}, sources_file=None, tolerance_s=300)[provider]


def _signed(provider: str, secret: str) -> tuple[Source, sample_sender.SignedRequest]:
    source = _source(provider, secret)
    return source, sample_sender.sign(source, None, None, time.time())


def _lower(headers: dict[str, str]) -> dict[str, str]:
    return {name.lower(): value for name, value in headers.items()}


def _tampered(body: bytes) -> str:
    return body.decode().replace('"type"', '"tYpe"', 1)


# ----------------------------------------------------------------------------------------------- meta

META = ("whatsapp", "messenger", "instagram", "facebook")
META_SECRET = "0d5b1c8e6f7a2b3c4d5e6f708192a3b4"  # an app secret's shape: 32 hex digits


def test_metas_sdk_signs_exactly_what_send_signs_and_we_verify_what_it_signs() -> None:
    # Meta's WhatsApp Node SDK computes the signature its webhook server compares with X-Hub-Signature-256;
    # Messenger, Instagram and Facebook (Graph webhooks) sign the same way. One Node process for all.
    signed = {provider: _signed(provider, META_SECRET) for provider in META}
    changed = {provider: request.body.replace(b'"object"', b'"objecT"', 1) for provider, (_, request) in signed.items()}
    assert all(changed[provider] != request.body for provider, (_, request) in signed.items())
    calls = []
    for provider, (_, request) in signed.items():
        body = request.body.decode()
        calls += [
            {"call": "meta.sign", "body": body, "secret": META_SECRET},
            {"call": "meta.sign", "body": body, "secret": "another-app-secret"},
            {"call": "meta.sign", "body": changed[provider].decode(), "secret": META_SECRET},
        ]
    answers = iter(node_sdk_calls(*calls))
    for provider, (source, request) in signed.items():
        theirs, other, tampered = (next(answers)["value"] for _ in range(3))
        assert request.headers["X-Hub-Signature-256"] == f"sha256={theirs}", provider
        wire = {b"x-hub-signature-256": f"sha256={theirs}".encode()}
        assert source.scheme.verify(wire, request.body, source.secrets, time.time()) == 0
        with pytest.raises(SignatureError):
            source.scheme.verify({b"x-hub-signature-256": f"sha256={other}".encode()}, request.body, source.secrets, 0)
        with pytest.raises(SignatureError):
            source.scheme.verify(wire, changed[provider], source.secrets, time.time())
        assert tampered != theirs


# ------------------------------------------------------------------------- shopify, webflow, vonage


def _sdk_verdicts(provider: str, call: str, secret: str) -> tuple[sample_sender.SignedRequest, bytes, list[Any]]:
    """The SDK's verdicts on what `send` signs: with the secret, another secret, and a changed body."""
    _, request = _signed(provider, secret)
    body, headers = request.body.decode(), _lower(request.headers)
    changed = request.body[:-1] + b" }" if request.body.endswith(b"}") else request.body + b" "
    answers = node_sdk_calls(
        {"call": call, "body": body, "headers": headers, "secret": secret},
        {"call": call, "body": body, "headers": headers, "secret": "another-secret"},
        {"call": call, "body": changed.decode(), "headers": headers, "secret": secret},
    )
    return request, changed, [answer.get("value", answer) for answer in answers]


@pytest.mark.parametrize(("provider", "call"), [("shopify", "shopify.validate"), ("webflow", "webflow.verify")])
def test_the_providers_sdk_verifies_what_send_signs(provider: str, call: str) -> None:
    request, changed, verdicts = _sdk_verdicts(provider, call, f"{provider}-app-secret")
    assert verdicts == [True, False, False]
    source = _source(provider, f"{provider}-app-secret")
    wire = {name.lower().encode(): value.encode() for name, value in request.headers.items()}
    with pytest.raises(SignatureError):
        source.scheme.verify(wire, changed, source.secrets, time.time())


def test_vonages_sdk_verifies_the_jwt_send_signs_and_we_check_its_body_hash_too() -> None:
    secret = "vonage-signature-secret-of-32-bytes-or-more"
    source, request = _signed("vonage", secret)
    token = request.headers["Authorization"].removeprefix("Bearer ")
    answers = node_sdk_calls(
        {"call": "vonage.verify", "token": token, "secret": secret},
        {"call": "vonage.verify", "token": token, "secret": "another-signature-secret-of-32-bytes"},
    )
    assert answers == [{"ok": True, "value": True}, {"ok": True, "value": False}]
    # The SDK checks the JWT alone; Vonage's docs say to compare its payload_hash with the body's SHA-256,
    # which our verifier does: the same token on a changed body is refused.
    wire = {b"authorization": request.headers["Authorization"].encode()}
    assert source.scheme.verify(wire, request.body, source.secrets, time.time()) == 0
    with pytest.raises(SignatureError):
        source.scheme.verify(wire, request.body + b" ", source.secrets, time.time())


# ------------------------------------------------------------------------------------------------ mux


def test_mux_sdk_verifies_what_send_signs() -> None:
    _, request = _signed("mux", "mux-signing-secret")
    headers = _lower(request.headers)
    body = request.body.decode()
    verdicts = node_sdk_calls(
        {"call": "mux.verify", "body": body, "headers": headers, "secret": "mux-signing-secret"},
        {"call": "mux.verify", "body": body, "headers": headers, "secret": "another-secret"},
        {"call": "mux.verify", "body": _tampered(request.body), "headers": headers, "secret": "mux-signing-secret"},
    )
    assert [verdict["ok"] for verdict in verdicts] == [True, False, False]


# ----------------------------------------------------------------------------------------------- zoom


def test_zoom_sdk_accepts_what_send_signs() -> None:
    _, request = _signed("zoom", "zoom-secret-token")
    body, headers = request.body.decode(), _lower(request.headers)
    answer, forged = node_sdk_calls(
        {"call": "zoom.receive", "body": body, "headers": headers, "secret": "zoom-secret-token"},
        {"call": "zoom.receive", "body": body, "headers": headers, "secret": "another-secret"},
    )
    assert answer["value"]["status"] == 200, answer
    assert answer["value"]["emitted"] == [json.loads(body)["event"]]
    assert forged["value"]["status"] == 400


def test_zoom_sdk_and_our_receiver_answer_the_url_validation_alike() -> None:
    # Rivet verifies the signed endpoint.url_validation and answers it itself: our answer must be its answer.
    source = _source("zoom", "zoom-secret-token")
    request = sample_sender.handshake(source, "zoom", time.time())
    theirs = node_sdk(
        "zoom.receive", body=request.body.decode(), headers=_lower(request.headers), secret="zoom-secret-token"
    )
    assert theirs["value"]["status"] == 200, theirs
    [handshake] = [h for h in source.handshakes if h.kind == "zoom"]
    inbound = Inbound("POST", {}, {k.lower().encode(): v.encode() for k, v in request.headers.items()}, request.body)
    ours = handshake.answer(inbound, source.secrets[0], None)
    assert ours is not None
    assert orjson.loads(ours.body) == theirs["value"]["body"]


# -------------------------------------------------------------------------------------------- twitter


def test_twitter_sdk_verifies_what_send_signs() -> None:
    _, request = _signed("twitter", "consumer-secret")
    headers, body = _lower(request.headers), request.body.decode()
    verdicts = node_sdk_calls(
        *(
            {"call": "twitter.verify", "body": body, "headers": headers, "secret": secret}
            for secret in ("consumer-secret", "other")
        )
    )
    assert verdicts == [{"ok": True, "value": True}, {"ok": True, "value": False}]


def test_twitter_sdk_and_our_receiver_answer_the_crc_alike() -> None:
    source = _source("twitter", "consumer-secret")
    [crc] = [h for h in source.handshakes if h.kind == "crc"]
    ours = crc.answer(Inbound("GET", {"crc_token": "crc-1795000000"}, {}, b""), source.secrets[0], None)
    assert ours is not None
    theirs = node_sdk("twitter.crc", token="crc-1795000000", secret="consumer-secret")
    assert orjson.loads(ours.body) == theirs["value"]


# --------------------------------------------------------------------------------------------- notion


def test_notion_sdk_verifies_what_send_signs() -> None:
    _, request = _signed("notion", "secret_notion_verification_token")
    body, signature = request.body.decode(), request.headers["X-Notion-Signature"]
    verdicts = node_sdk_calls(
        {"call": "notion.verify", "body": body, "signature": signature, "secret": "secret_notion_verification_token"},
        {"call": "notion.verify", "body": body, "signature": signature, "secret": "secret_another"},
        {
            "call": "notion.verify",
            "body": _tampered(request.body),
            "signature": signature,
            "secret": "secret_notion_verification_token",
        },
    )
    assert [verdict.get("value") for verdict in verdicts] == [True, False, False]


def test_what_the_notion_sdk_signs_is_accepted() -> None:
    source = _source("notion", "secret_notion_verification_token")
    body = b'{"id":"evt_1","timestamp":"2026-11-30T20:00:00.000Z","type":"page.created","entity":{"id":"p1"}}'
    signature = node_sdk("notion.sign", body=body.decode(), secret="secret_notion_verification_token")["value"]
    headers = {b"x-notion-signature": signature.encode(), b"content-type": b"application/json"}
    assert source.scheme.verify(headers, body, source.secrets, time.time()) == 0
    described = source.scheme.describe("notion", headers, body)
    assert (described.id, described.type) == ("evt_1", "page.created")


# ----------------------------------------------------------------------------------------- contentful

CONTENTFUL_SECRET = "c0nt3ntfu1-s1gn1ng-s3cr3t-0f-64-charact3rs-ex4ctly-4s-r3qu1r3d0k"
CONTENTFUL_URLS = ("https://hooks.example.com/webhooks/contentful", "https://hooks.example.com/hooks/cf?space=a b")


def _contentful(url: str) -> Source:
    environ = {secret_env_name("contentful"): CONTENTFUL_SECRET, "WEBHOOK_PUBLIC_URL_CONTENTFUL": url}
    return load_sources(environ, sources_file=None, tolerance_s=300)["contentful"]


@pytest.mark.parametrize("url", CONTENTFUL_URLS)
def test_contentful_toolkit_verifies_what_send_signs(url: str) -> None:
    source = _contentful(url)
    request = sample_sender.sign(source, None, None, time.time())
    path = url.split("hooks.example.com", 1)[1]
    arguments = {"method": "POST", "path": path, "headers": request.headers, "ttl_s": 60}
    verdicts = node_sdk_calls(
        {"call": "contentful.verify", "secret": CONTENTFUL_SECRET, "body": request.body.decode(), **arguments},
        {"call": "contentful.verify", "secret": "x" * 64, "body": request.body.decode(), **arguments},
        {"call": "contentful.verify", "secret": CONTENTFUL_SECRET, "body": _tampered(request.body), **arguments},
    )
    assert [verdict.get("value") for verdict in verdicts] == [True, False, False]


@pytest.mark.parametrize("url", CONTENTFUL_URLS)
def test_what_the_contentful_toolkit_signs_is_accepted(url: str) -> None:
    source = _contentful(url)
    body = b'{"sys":{"type":"Entry","id":"5KsDBWseXY6QegucYAoacS","updatedAt":"2026-11-30T20:00:00.000Z"},"fields":{}}'
    headers = {"X-Contentful-Topic": "ContentManagement.Entry.save", "Content-Type": "application/json"}
    now_ms = int(time.time() * 1000)
    path = url.split("hooks.example.com", 1)[1]
    signed = node_sdk(
        "contentful.sign",
        secret=CONTENTFUL_SECRET,
        method="POST",
        path=path,
        headers=headers,
        body=body.decode(),
        timestamp_ms=now_ms,
    )["value"]
    wire = {name.lower().encode(): str(value).encode() for name, value in {**headers, **signed}.items()}
    assert source.scheme.verify(wire, body, source.secrets, time.time()) == 0
    assert source.scheme.describe("contentful", wire, body).type == "ContentManagement.Entry.save"
    other = {**wire, b"x-contentful-topic": b"ContentManagement.Entry.delete"}
    with pytest.raises(SignatureError):
        source.scheme.verify(other, body, source.secrets, time.time())
