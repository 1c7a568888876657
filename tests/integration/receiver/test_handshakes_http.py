"""Every provider handshake over real HTTP against a `python -m receiver` process publishing to the real Kafka:
every handshaking built-in source configured by the environment under its own name (a sources file gives them
the test's topic), each handshake sent as its provider sends it (`sample_sender.handshake`) by a real HTTP
client and answered as the provider expects; none is published (the topic they all share holds only the one
real event sent after them), each is counted on /metrics, and a method no handshake of the source uses stays
405.

Then the same for sources of the run-time registry, on a receiver of two worker processes: the
handshakes that need what a source holds (X's CRC, Okta, Zoom and Xero a secret, Meta a verify token), and
the ones that give a source its secret (Asana's `X-Hook-Secret`, Notion's `verification_token`), kept by
every worker and after a restart, and never replaced by a later handshake.
"""

from __future__ import annotations

import asyncio
import base64
import dataclasses
import hashlib
import hmac
import os
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import orjson
import pytest

from receiver import sample_sender
from receiver.sources import (
    Source,
    load_sources,
    public_url_env_name,
    registry_source,
    secret_env_name,
    verify_token_env_name,
)
from schemas import Envelope
from tests.integration.kafka_tools import read_topic
from tests.integration.ports import free_port
from tests.integration.processes import clean_environ
from tests.integration.receiver_process import received, receiver_process, scraped, wait_ready
from tests.integration.registry_tools import Registry, added_id, gauge, registry_env
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


def _static(topic: str, directory: Path) -> tuple[dict[str, str], dict[str, Source]]:
    """The environment configuring every handshaking built-in source under its own name (secrets, Meta's
    verify tokens, public URLs; a sources file giving them the test's topic), and the sources it configures."""
    names = (*HANDSHAKING, "slack", "adyen")
    env = {secret_env_name(name): SECRETS.get(name, f"{name}-secret-of-32-bytes-at-least") for name in names}
    env |= {verify_token_env_name(name): VERIFY_TOKEN for name in META}
    env |= {public_url_env_name(name): url for name, url in PUBLIC_URLS.items()}
    sources_file = directory / "sources.toml"
    sources_file.write_text("".join(f'[sources.{n}]\nprovider = "{n}"\ntopic = "{topic}"\n' for n in names))
    env["WEBHOOK_SOURCES_FILE"] = str(sources_file)
    return env, load_sources(env, sources_file=sources_file, tolerance_s=300)


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
    kafka_bootstrap: str, unique: str, tmp_path: Path
) -> None:
    topic = f"it.{unique}.handshakes"
    static, sources = _static(topic, tmp_path)
    env = {**clean_environ(), **static, "KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap, "KAFKA_TOPIC_PARTITIONS": "1"}
    env.update(RECEIVER_PORT=str(free_port()), LOG_FORMAT="text")
    log, url = tmp_path / "receiver.log", f"http://127.0.0.1:{env['RECEIVER_PORT']}"
    with receiver_process(env, log) as supervisor:
        await wait_ready(supervisor, url, log)
        async with httpx.AsyncClient(base_url=url, timeout=10) as http:
            await _walk_static(http, sources, log)

    [record] = await read_topic(kafka_bootstrap, topic, expect=1)
    assert Envelope.from_bytes(record.value).provider == "adyen"


async def _walk_static(http: httpx.AsyncClient, sources: dict[str, Source], log: Path) -> None:
    """Every handshake of the static sources, their refusals and 405s, the count, then one Adyen event."""
    answered = 0
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
    assert (await _send(http, "xero", sample_sender.handshake(forged, "empty_batch", time.time()))).status_code == 401
    forged = dataclasses.replace(sources["zoom"], secrets=(b"another-secret-token",))
    assert (await _send(http, "zoom", sample_sender.handshake(forged, "zoom", time.time()))).status_code == 401
    unsigned = await http.get("/webhooks/okta", headers={"X-Okta-Verification-Challenge": "c-1"})
    assert unsigned.status_code == 401
    # X's CRC answer is keyed like an event's signature: a body as crc_token would get one signed. Refused.
    forged_event = '{"for_user_id":"1","tweet_create_events":[{"id_str":"9"}]}'
    refused = await http.get("/webhooks/twitter", params={"crc_token": forged_event})
    assert refused.status_code == 400
    assert "response_token" not in refused.text
    # A static source's secret is its environment's: a handshake choosing another is answered, not kept.
    chosen = dataclasses.replace(sources["asana"], secrets=(b"chosen-by-asana-7f0c",))
    response = await _send(http, "asana", sample_sender.handshake(chosen, "hook_secret", time.time()))
    assert (response.status_code, response.headers["x-hook-secret"]) == (200, "chosen-by-asana-7f0c")
    answered += 1
    await asyncio.sleep(0.2)  # the log line is written as the answer goes
    written = await asyncio.to_thread(log.read_text)
    assert "WEBHOOK_SECRET_ASANA" in written
    assert "chosen-by-asana" not in written

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

    assert received((await http.get("/metrics")).text, "handshake") == answered

    # Then one real event, acknowledged as Adyen wants (`[accepted]`): the only record the topic holds.
    event = sample_sender.sign(sources["adyen"], None, None, time.time())
    response = await _send(http, "adyen", event)
    assert (response.status_code, response.text) == (200, "[accepted]")


# ------------------------------------------------------------------------------------------------ registry sources

# Registry sources whose handshake gives the secret: added with --capture.
CAPTURING = ("asana", "notion")
META = ("whatsapp", "messenger", "instagram", "facebook")
# The registry sources whose handshake needs what the source holds: X's CRC, Okta, Zoom and Xero its secret,
# Meta's four their verify token too (the handshakes that only echo are the same for every source).
HOLDING = (*META, "twitter", "okta", "zoom", "xero")
# Each request on a connection of its own: the kernel spreads them over both workers.
CONNECTIONS = 6


async def _spread(url: str, name: str, request: sample_sender.SignedRequest) -> list[httpx.Response]:
    async def one() -> httpx.Response:
        async with httpx.AsyncClient(base_url=url, timeout=10) as http:
            return await _send(http, name, request)

    return list(await asyncio.gather(*(one() for _ in range(CONNECTIONS))))


def _registry_env(kafka_bootstrap: str, unique: str, tmp_path: Path) -> dict[str, str]:
    env = registry_env(kafka_bootstrap, unique)
    (tmp_path / "metrics").mkdir()
    env.update(
        RECEIVER_PORT=str(free_port()),
        RECEIVER_WORKERS="2",
        PROMETHEUS_MULTIPROC_DIR=str(tmp_path / "metrics"),
        LOG_LEVEL="DEBUG",
        LOG_FORMAT="text",
    )
    return env


@pytest.mark.timeout(300)
async def test_registry_sources_answer_handshakes_and_keep_a_captured_secret_across_workers_and_a_restart(
    kafka_bootstrap: str, unique: str, tmp_path: Path
) -> None:
    env = _registry_env(kafka_bootstrap, unique, tmp_path)
    topic = f"it.{unique}.registry-handshakes"
    log = tmp_path / "receiver.log"
    url = f"http://127.0.0.1:{env['RECEIVER_PORT']}"
    commands = Registry(env, url, log)
    asana_secret, notion_token = f"asana-hook-secret-{unique}", f"secret_notion-{unique}"
    with receiver_process(env, log) as supervisor:
        await wait_ready(supervisor, url, log, timeout_s=60)
        local: dict[str, Source] = {}
        for provider in HOLDING:
            secret = SECRETS.get(provider, f"{provider}-registry-secret-{unique}")
            env["SOURCE_SECRET"] = secret
            token = ("--verify-token-stdin",) if provider in META else ()
            public_url = PUBLIC_URLS.get(provider)
            at = ("--public-url", public_url) if public_url else ()
            name = added_id(
                commands.command(
                    "add",
                    "--provider",
                    provider,
                    "--topic",
                    topic,
                    "--secret-env",
                    "SOURCE_SECRET",
                    *token,
                    *at,
                    stdin=VERIFY_TOKEN,
                )
            )
            verify_token = VERIFY_TOKEN.encode() if token else None
            local[provider] = registry_source(
                name,
                provider=provider,
                secrets=(secret.encode(),),
                tolerance_s=300,
                verify_token=verify_token,
                public_url=public_url,
            )
        for provider in CAPTURING:
            out = commands.command("add", "--provider", provider, "--topic", topic, "--capture")
            assert "its secret set by its first handshake" in out
            captured = (asana_secret if provider == "asana" else notion_token).encode()
            local[provider] = registry_source(added_id(out), provider=provider, secrets=(captured,), tolerance_s=300)
        # Capture only where the provider's handshake carries the secret; a verify token only for Meta's.
        commands.command("add", "--provider", "stripe", "--capture", expect=2)
        commands.command(
            "add", "--provider", "okta", "--secret-env", "SOURCE_SECRET", "--verify-token-stdin", stdin="t", expect=2
        )
        await commands.applied_everywhere()
        listed = {row["id"]: row for row in orjson.loads(commands.command("list", "--json"))}
        assert listed[local["asana"].name]["state"] == "enabled, waiting for its handshake's secret"
        assert listed[local["asana"].name]["secrets"] == 0
        assert [listed[local[p].name]["verify_token"] for p in ("whatsapp", "twitter")] == [True, False]

        answered = 0
        for provider in HOLDING:
            source = local[provider]
            for rule in source.handshakes:
                request = sample_sender.handshake(source, rule.kind, time.time())
                for response in await _spread(url, source.name, request):
                    assert response.status_code == 200, (provider, response.text)
                    CHECKS[rule.kind](request, response, source.secrets[0])
                    answered += 1
        # The methods no handshake of a source uses stay 405, as for a static source.
        async with httpx.AsyncClient(base_url=url, timeout=10) as http:
            for source in local.values():
                allowed = {"POST"} | {rule.method for rule in source.handshakes}
                for method in set(METHODS) - allowed:
                    assert (await http.request(method, f"/webhooks/{source.name}")).status_code == 405
        meta = {"hub.mode": "subscribe", "hub.verify_token": "a-guess", "hub.challenge": "1158201444"}
        async with httpx.AsyncClient(base_url=url, timeout=10) as http:
            assert (await http.get(f"/webhooks/{local['whatsapp'].name}", params=meta)).status_code == 403
        # A new verify token reaches every worker: the old one is refused, the new one answered.
        commands.command("verify-token", local["whatsapp"].name, "--token-stdin", stdin="meta-token-2")
        await commands.applied_everywhere()
        renewed = dataclasses.replace(local["whatsapp"], verify_token=b"meta-token-2")
        for old_or_new, status in ((local["whatsapp"], 403), (renewed, 200)):
            request = sample_sender.handshake(old_or_new, "meta", time.time())
            assert {r.status_code for r in await _spread(url, renewed.name, request)} == {status}
            answered += CONNECTIONS if status == 200 else 0

        # Before its handshake, a capturing source refuses every event: no secret anybody holds verifies.
        asana, notion = local["asana"], local["notion"]
        early = sample_sender.sign(asana, None, None, time.time())
        assert {r.status_code for r in await _spread(url, asana.name, early)} == {401}
        for source in (asana, notion):
            request = sample_sender.handshake(source, None, time.time())
            async with httpx.AsyncClient(base_url=url, timeout=10) as http:
                response = await _send(http, source.name, request)
            assert response.status_code == 200, response.text
            CHECKS[source.handshakes[0].kind](request, response, source.secrets[0])
            answered += 1
            commands.written += 1  # the receiver wrote the captured secret to the registry
        await commands.applied_everywhere()

        # Every worker verifies with the captured secrets; Notion's is shown once, to be pasted into Notion.
        for source in (asana, notion):
            event = sample_sender.sign(source, None, None, time.time())
            assert {r.status_code for r in await _spread(url, source.name, event)} == {202}
        assert commands.command("reveal", notion.name).strip() == notion_token
        assert "shown once already" in commands.command("reveal", notion.name, expect=2)
        commands.command("reveal", asana.name, expect=2)

        # A later handshake never replaces it: another secret is refused by every worker, the same one answered.
        other = dataclasses.replace(asana, secrets=(b"someone-elses-secret",))
        refused = await _spread(url, asana.name, sample_sender.handshake(other, None, time.time()))
        assert {r.status_code for r in refused} == {403}
        again = sample_sender.handshake(asana, None, time.time())
        assert {r.status_code for r in await _spread(url, asana.name, again)} == {200}
        answered += CONNECTIONS

        # A source waiting for its handshake given its secret by `rotate` instead: the wait is over, every worker
        # verifies with that secret, a handshake repeating it is answered, and one with another is refused.
        waiting = added_id(commands.command("add", "--provider", "asana", "--topic", f"{topic}-rotated", "--capture"))
        given = f"asana-given-{unique}"
        env["SOURCE_SECRET"] = given
        out = commands.command("rotate", waiting, "--secret-env", "SOURCE_SECRET")
        assert out == f"rotated {waiting}: 1 secrets, no old secret kept, no longer waiting for its handshake\n"
        await commands.applied_everywhere()
        rotated = registry_source(waiting, provider="asana", secrets=(given.encode(),), tolerance_s=300)
        event = sample_sender.sign(rotated, None, None, time.time())
        assert {r.status_code for r in await _spread(url, waiting, event)} == {202}
        repeated = await _spread(url, waiting, sample_sender.handshake(rotated, None, time.time()))
        assert {r.status_code for r in repeated} == {200}
        answered += CONNECTIONS
        # The same once `capture` armed it again (a webhook made again): the secret rotated away stays valid for
        # the rotation's window.
        commands.command("capture", waiting)
        env["SOURCE_SECRET"] = f"asana-rotated-{unique}"
        out = commands.command("rotate", waiting, "--secret-env", "SOURCE_SECRET")
        assert out.startswith(f"rotated {waiting}: 2 secrets, the old one valid until "), out
        assert out.endswith(", no longer waiting for its handshake\n"), out
        await commands.applied_everywhere()
        for request, status in ((event, 202), (sample_sender.handshake(other, None, time.time()), 403)):
            assert {r.status_code for r in await _spread(url, waiting, request)} == {status}

        assert await scraped(url, answered, "handshake") == answered

    # Meanwhile the master key is rotated: a new one first, `reencrypt`, the old one gone. Every secret moves to
    # the new key: the holding sources' own, Meta's verify tokens, the captured ones, the rotated source's two.
    old_key, new_key = env["WEBHOOK_MASTER_KEYS"], base64.b64encode(os.urandom(32)).decode()
    env["WEBHOOK_MASTER_KEYS"] = f"{new_key},{old_key}"
    sources = len(HOLDING) + len(CAPTURING) + 1
    sealed = len(HOLDING) + len(META) + len(CAPTURING) + 2
    assert commands.command("reencrypt").startswith(f"re-encrypted {sealed} secrets of {sources} sources")
    commands.written += sources
    # And one source sealed with a key the receiver will not hold: it alone is reported, and answers 404.
    env["WEBHOOK_MASTER_KEYS"] = base64.b64encode(os.urandom(32)).decode()
    stray = added_id(commands.command("add", "--provider", "hmac", "--secret-stdin", stdin=f"stray-{unique}"))
    env["WEBHOOK_MASTER_KEYS"] = new_key

    # A restarted receiver, holding only the new key, reads the captured secret from the registry, and still
    # refuses a replacement; it answers Meta's challenges with the verify tokens, Notion's shown once still.
    env["RECEIVER_PORT"] = str(free_port())
    url = f"http://127.0.0.1:{env['RECEIVER_PORT']}"
    with receiver_process(env, log) as supervisor:
        await wait_ready(supervisor, url, log, timeout_s=60)
        # Ready is one worker's answer: the other may still be reading the registry (a 503 to retry).
        commands.url = url
        await commands.applied_everywhere()
        event = sample_sender.sign(asana, None, None, time.time())
        assert {r.status_code for r in await _spread(url, asana.name, event)} == {202}
        refused = await _spread(url, asana.name, sample_sender.handshake(other, None, time.time()))
        assert {r.status_code for r in refused} == {403}
        for source in (renewed, *(local[provider] for provider in META[1:])):
            request = sample_sender.handshake(source, "meta", time.time())
            for response in await _spread(url, source.name, request):
                assert response.status_code == 200, (source.provider, response.text)
                CHECKS["meta"](request, response, source.secrets[0])
        assert "shown once already" in commands.command("reveal", notion.name, expect=2)
        async with httpx.AsyncClient(base_url=url, timeout=10) as http:
            assert (await http.post(f"/webhooks/{stray}", content=b"{}")).status_code == 404
            unreadable = gauge((await http.get("/metrics")).text, "webhooks_registry_unreadable_total")
    # Records replaced since (sealed with the old key, not compacted away yet) are no alarm: only the stray
    # source is reported, once by each worker.
    assert unreadable == 2
    reported = [line for line in log.read_text().splitlines() if "is not served" in line]
    assert len(reported) == 2
    assert all(stray in line for line in reported), reported

    # Only the events are published, never a handshake; no captured secret or token is in the log.
    records = await read_topic(kafka_bootstrap, topic, expect=3 * CONNECTIONS)
    assert len(records) == 3 * CONNECTIONS
    assert {Envelope.from_bytes(r.value).provider for r in records} == {"asana", "notion"}
    text = log.read_text()
    for secret in (asana_secret, notion_token, VERIFY_TOKEN, "meta-token-2"):
        assert secret not in text
