"""Secrets and tokens a handshake needs or gives, through the real ASGI app with a recording publisher: the
secret Asana's and Notion's handshakes choose (kept only by a registry source waiting for it, never replacing
one), Meta's verify token held by a registry source, X's CRC refusing a token that could be a body, and
Mandrill's per-event types. The registry's Kafka side is in tests/integration/receiver/test_handshakes_http.py.
"""

from __future__ import annotations

import asyncio
import logging
import os
import threading
import time
from datetime import UTC, datetime, timedelta
from urllib.parse import urlencode

import httpx
import orjson
import pytest
from prometheus_client import CollectorRegistry

from receiver import sample_sender
from receiver.app import Receiver, create_app
from receiver.errors import RegistryUnavailable, SealError
from receiver.metrics import ReceiverMetrics
from receiver.registry import commands, follower
from receiver.registry.definition import Capture, SealedSecret, SourceDefinition, build_source, verify_token_aad
from receiver.registry.keyring import Keyring
from receiver.settings import ReceiverSettings
from receiver.sources import Source, captured_by, has_verify_token, load_sources, secret_env_name
from receiver.verify.spec import MIXED_BATCH_TYPE
from tests.fakes import RecordingPublisher

NOW = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
KEY = os.urandom(32)
CHOSEN = b"b537207f20cbfa02357cf448134da559e8bd39d61597dcd5631b8012eae53e81"  # Asana's documented example


def _definition(keyring: Keyring, provider: str = "asana", **changes: object) -> SourceDefinition:
    fields: dict[str, object] = {
        "id": "src_h",
        "provider": provider,
        "secrets": [],
        "capture": Capture(armed_at=NOW),
        "created_at": NOW,
        "updated_at": NOW,
    }
    return SourceDefinition.model_validate({**fields, **changes})


def _app() -> tuple[Receiver, RecordingPublisher]:
    publisher = RecordingPublisher()
    return create_app(ReceiverSettings(), sources={}, publisher=publisher, registry=CollectorRegistry()), publisher


async def _send(app: Receiver, name: str, request: sample_sender.SignedRequest) -> httpx.Response:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
        return await http.request(
            request.method, f"/webhooks/{name}", content=request.body, headers=request.headers, params=request.query
        )


def _with_secret(source: Source, secret: bytes) -> Source:
    # The same source as its provider sees it: for building its requests only.
    return Source(name=source.name, scheme=source.scheme, secrets=(secret,), topic=source.topic)


# ------------------------------------------------------------------------------------------------ capture


@pytest.mark.parametrize("provider", ["asana", "notion"])
async def test_a_waiting_registry_source_keeps_the_handshakes_secret_and_refuses_events_until_then(
    provider: str,
) -> None:
    keyring, kept = Keyring([KEY]), []

    async def keep(definition: SourceDefinition, secret: bytes) -> None:
        kept.append((definition.id, secret))

    app, publisher = _app()
    waiting = build_source(_definition(keyring, provider), keyring, now=NOW, tolerance_s=300, keep_captured=keep)
    assert waiting is not None
    app.webhooks.put(waiting)
    # No secret yet: a delivery signed with anything is refused.
    forged = sample_sender.sign(_with_secret(waiting, CHOSEN), None, None, time.time())
    assert (await _send(app, "src_h", forged)).status_code == 401
    response = await _send(app, "src_h", sample_sender.handshake(_with_secret(waiting, CHOSEN), None, time.time()))
    assert response.status_code == 200
    assert kept == [("src_h", CHOSEN)]
    assert publisher.records == []


async def test_an_established_secret_is_never_replaced_by_a_handshake() -> None:
    keyring = Keyring([KEY])
    app, _ = _app()
    held = [SealedSecret(sealed=keyring.seal(CHOSEN, "src_h"))]
    established = build_source(_definition(keyring, secrets=held, capture=None), keyring, now=NOW, tolerance_s=300)
    assert established is not None
    app.webhooks.put(established)
    other = sample_sender.handshake(_with_secret(established, b"another-secret"), None, time.time())
    refused = await _send(app, "src_h", other)
    assert (refused.status_code, refused.json()) == (403, {"error": "forbidden"})
    assert "x-hook-secret" not in refused.headers
    # The secret it holds, sent again: answered (it changes nothing).
    same = await _send(app, "src_h", sample_sender.handshake(established, None, time.time()))
    assert (same.status_code, same.headers["x-hook-secret"]) == (200, CHOSEN.decode())


async def test_a_static_source_answers_a_handshake_without_keeping_its_secret(
    caplog: pytest.LogCaptureFixture,
) -> None:
    sources = load_sources({secret_env_name("asana"): "configured"}, sources_file=None, tolerance_s=300)
    publisher = RecordingPublisher()
    app = create_app(ReceiverSettings(), sources=sources, publisher=publisher, registry=CollectorRegistry())
    with caplog.at_level(logging.WARNING, logger="receiver.sources"):
        response = await _send(app, "asana", sample_sender.handshake(_with_secret(sources["asana"], CHOSEN), None, 0))
    assert (response.status_code, response.headers["x-hook-secret"]) == (200, CHOSEN.decode())
    assert sources["asana"].secrets == (b"configured",)
    [line] = [r.getMessage() for r in caplog.records]
    assert "WEBHOOK_SECRET_ASANA" in line
    assert CHOSEN.decode() not in line


def test_a_capture_puts_the_new_secret_first_and_keeps_the_old_for_its_window() -> None:
    keyring = Keyring([KEY])
    old = SealedSecret(sealed=keyring.seal(b"old", "src_h"))
    armed = _definition(keyring, secrets=[old], capture=Capture(armed_at=NOW, keep_old_for_s=3600))
    captured = armed.captured(keyring.seal(CHOSEN, "src_h"), NOW)
    assert captured.capture is None
    assert [s.captured_at for s in captured.secrets] == [NOW, None]
    assert captured.secrets[1].expires_at == NOW + timedelta(hours=1)
    source = build_source(captured, keyring, now=NOW, tolerance_s=300)
    assert source is not None
    assert source.secrets == (CHOSEN, b"old")
    assert CHOSEN not in captured.to_bytes()
    # Without a window, the old secret goes at once.
    assert len(_definition(keyring, secrets=[old]).captured(keyring.seal(CHOSEN, "src_h"), NOW).secrets) == 1
    with pytest.raises(ValueError, match="a source needs a secret"):
        _definition(keyring, capture=None)


def test_only_handshakes_that_carry_a_secret_capture_and_only_metas_check_a_verify_token() -> None:
    assert (captured_by("asana"), captured_by("notion"), captured_by("stripe"), captured_by("monday")) == (
        "kept",
        "shown",
        None,
        None,
    )
    assert [p for p in ("whatsapp", "messenger", "instagram", "facebook", "okta") if has_verify_token(p)] == [
        "whatsapp",
        "messenger",
        "instagram",
        "facebook",
    ]


@pytest.mark.parametrize(
    ("args", "problem"),
    [
        (["add", "--provider", "stripe", "--capture"], "stripe's handshake carries no secret"),
        (["add", "--provider", "asana"], "give --secret-stdin or --secret-env (or --capture)"),
        (["add", "--provider", "okta", "--secret-env", "S", "--verify-token-env", "S"], "okta's handshake checks none"),
        (
            ["add", "--provider", "whatsapp", "--secret-stdin", "--verify-token-stdin"],
            "standard input holds the secret",
        ),
        (["add", "--provider", "asana", "--capture", "--secret-env", "S"], "not allowed with argument"),
    ],
)
def test_commands_refuse_a_capture_or_verify_token_the_provider_has_no_use_for(
    args: list[str], problem: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("WEBHOOK_MASTER_KEYS", "A" * 43 + "=")
    monkeypatch.setenv("S", "a-secret")
    monkeypatch.setenv("KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:9")  # refused before Kafka is asked anything
    try:
        code = commands.main(args)
    except SystemExit as exit:
        code = int(exit.code or 0)
    err = capsys.readouterr().err
    assert code == 2
    assert problem in err
    assert err.count("\n") == 1


# ------------------------------------------------------------------------------------------------ verify token


async def test_a_registry_source_answers_metas_challenge_with_its_own_sealed_verify_token() -> None:
    keyring = Keyring([KEY])
    sealed = SealedSecret(sealed=keyring.seal(b"meta-token", verify_token_aad("src_h")))
    held = [SealedSecret(sealed=keyring.seal(b"app-secret", "src_h"))]
    definition = _definition(keyring, "whatsapp", secrets=held, capture=None, verify_token=sealed)
    assert b"meta-token" not in definition.to_bytes()
    source = build_source(definition, keyring, now=NOW, tolerance_s=300)
    assert source is not None
    app, _ = _app()
    app.webhooks.put(source)
    query = {"hub.mode": "subscribe", "hub.verify_token": "meta-token", "hub.challenge": "1158201444"}
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
        answered = await http.get("/webhooks/src_h", params=query)
        guessed = await http.get("/webhooks/src_h", params={**query, "hub.verify_token": "a-guess"})
    assert (answered.status_code, answered.text) == (200, "1158201444")
    assert guessed.status_code == 403
    # Sealed to its place: the token does not open as a secret, nor a secret as the token.
    with pytest.raises(SealError):
        keyring.open(sealed.sealed, "src_h")
    swapped = _definition(keyring, "whatsapp", secrets=held, capture=None, verify_token=held[0])
    with pytest.raises(SealError):
        build_source(swapped, keyring, now=NOW, tolerance_s=300)


# ------------------------------------------------------------------------------------------------ X's CRC


@pytest.mark.parametrize(
    ("token", "status"),
    [
        ("Y3JjLTE3OTUwMDAwMDA=", 200),
        ("eyJhbGciOiJIUzI1NiJ9_-", 200),
        ('{"for_user_id":"1","tweet_create_events":[]}', 400),
        ("a b", 400),
        ("", 400),
    ],
)
async def test_xs_crc_answers_base64_tokens_only_so_it_signs_no_body(token: str, status: int) -> None:
    sources = load_sources({secret_env_name("twitter"): "consumer-secret"}, sources_file=None, tolerance_s=300)
    app = create_app(ReceiverSettings(), sources=sources, publisher=RecordingPublisher(), registry=CollectorRegistry())
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
        response = await http.get("/webhooks/twitter", params={"crc_token": token})
    assert response.status_code == status
    assert ("response_token" in response.text) == (status == 200)


# ------------------------------------------------------------------------------------------------ Mandrill


@pytest.mark.parametrize(
    ("events", "expected"),
    [
        ([{"event": "hard_bounce"}, {"event": "hard_bounce"}], "hard_bounce"),
        ([{"event": "send"}, {"event": "open"}], MIXED_BATCH_TYPE),
        ([{"type": "blacklist", "action": "add"}], "blacklist"),
        ([], "mandrill_events"),
    ],
)
async def test_a_mandrill_batch_is_one_record_typed_by_its_events(events: list[object], expected: str) -> None:
    url = "https://hooks.example.com/webhooks/mandrill"
    env = {secret_env_name("mandrill"): "webhook-key", "WEBHOOK_PUBLIC_URL_MANDRILL": url}
    sources = load_sources(env, sources_file=None, tolerance_s=300)
    publisher = RecordingPublisher()
    app = create_app(ReceiverSettings(), sources=sources, publisher=publisher, registry=CollectorRegistry())
    body = urlencode({"mandrill_events": orjson.dumps(events).decode()}).encode()
    delivery = sample_sender.sign(sources["mandrill"], body, None, time.time())
    response = await _send(app, "mandrill", delivery)
    assert response.status_code == 202, response.text
    [(_, _, _, headers)] = publisher.records
    assert dict(headers)["webhook-type"] == expected.encode()


async def test_the_follower_writes_a_captured_secret_before_serving_it_and_a_failed_write_is_a_503(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    keyring, failing = Keyring([KEY]), [True]
    app, publisher = _app()
    records: list[tuple[str, bytes | None]] = []

    def write(settings: ReceiverSettings, batch: list[tuple[str, bytes | None]]) -> None:
        if failing[0]:
            raise RegistryUnavailable("Kafka did not take the change (test)")
        records.extend(batch)

    monkeypatch.setattr(follower, "write", write)
    following = follower.RegistryFollower(
        ReceiverSettings(), keyring, app.webhooks, ReceiverMetrics(CollectorRegistry())
    )
    waiting = build_source(
        _definition(keyring), keyring, now=NOW, tolerance_s=300, keep_captured=following._keep_captured
    )
    assert waiting is not None
    app.webhooks.put(waiting)
    handshake = sample_sender.handshake(_with_secret(waiting, CHOSEN), None, 0)
    # Not written, so not answered: Asana's create call fails and is made again; the source still waits.
    refused = await _send(app, "src_h", handshake)
    assert (refused.status_code, refused.json()) == (503, {"error": "unavailable"})
    failing[0] = False
    # Two handshakes at once on one process: the one that comes while the first is being written gets a 503.
    released = threading.Event()

    def held_write(settings: ReceiverSettings, batch: list[tuple[str, bytes | None]]) -> None:
        released.wait(5)
        write(settings, batch)

    monkeypatch.setattr(follower, "write", held_write)
    first = asyncio.create_task(_send(app, "src_h", handshake))
    await asyncio.sleep(0.05)
    other = sample_sender.handshake(_with_secret(waiting, b"another"), None, 0)
    assert (await _send(app, "src_h", other)).status_code == 503
    released.set()
    assert (await first).status_code == 200
    [(key, value)] = records
    assert value is not None
    stored = SourceDefinition.from_bytes(value)
    assert (key, stored.capture, keyring.open(stored.secrets[0].sealed, "src_h")) == ("src_h", None, CHOSEN)
    # Served by this process at once with it, and the next handshake can't set another.
    event = sample_sender.sign(_with_secret(waiting, CHOSEN), None, None, time.time())
    assert (await _send(app, "src_h", event)).status_code == 202
    assert len(publisher.records) == 1
    assert (await _send(app, "src_h", other)).status_code == 403
    assert len(records) == 1
