"""The run-time source registry on the real stack: `webhooks sources` commands against a receiver of two worker
processes, as an operator uses them. Sources are added while it runs and take signed events within seconds,
a rotated secret and the new one are both accepted, a disabled or deleted source gets 404, a rate gives 429s
and nothing over it reaches Kafka; no secret appears in any log line, metric, command output or record of
the registry's topic."""

from __future__ import annotations

import asyncio
import base64
import os
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import orjson
import pytest

from tests.integration.kafka_tools import read_topic
from tests.integration.ports import free_port
from tests.integration.receiver_process import receiver_process, scraped, wait_ready
from tests.integration.registry_tools import Registry, added_id, gauge, registry_env
from tests.signing import hmac_headers
from tests.suffixes import new_suffix

# The bound for a change to reach every running receiver process.
PROPAGATION_S = 2.0
# Requests per check, each on a connection of its own: the kernel spreads them over both workers.
CONNECTIONS = 8


async def statuses(url: str, source: str, secret: str, event_id: str) -> list[int]:
    """One signed event POSTed CONNECTIONS times at once, each on a new connection (one client keeping none: a
    client apiece costs more than the requests)."""
    body = orjson.dumps({"id": event_id, "type": "order.created"})
    fresh = httpx.Limits(max_connections=CONNECTIONS, max_keepalive_connections=0)
    async with httpx.AsyncClient(base_url=url, timeout=10, limits=fresh) as http:
        answers = await asyncio.gather(
            *(
                http.post(f"/webhooks/{source}", content=body, headers=hmac_headers(body, secret))
                for _ in range(CONNECTIONS)
            )
        )
    return [answer.status_code for answer in answers]


@pytest.fixture(scope="module")
def served() -> str:
    """The suffix of the module's receiver: its registry topic, its sources file's source."""
    return new_suffix()


# One receiver for the module's tests (its start-up with two workers is the slow part): each test keeps to
# sources and topics of its own, and the commands count the records of all of them (`written`).
@pytest.fixture(scope="module")
def registry(kafka_bootstrap: str, served: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Registry]:
    directory = tmp_path_factory.mktemp("registry")
    env = registry_env(kafka_bootstrap, served)
    # A source of the sources file beside the registry's: both kinds are served at once.
    sources_file = directory / "sources.toml"
    sources_file.write_text(f'[sources.static-{served}]\nprovider = "hmac"\ntopic = "it.{served}.static"\n')
    env.update(
        WEBHOOK_SOURCES_FILE=str(sources_file),
        **{f"WEBHOOK_SECRET_STATIC_{served.upper()}": f"static-{served}"},
        RECEIVER_PORT=str(free_port()),
        RECEIVER_WORKERS="2",
        PROMETHEUS_MULTIPROC_DIR=str(directory / "metrics"),
        LOG_LEVEL="DEBUG",
        LOG_FORMAT="text",
    )
    (directory / "metrics").mkdir()
    log = directory / "receiver.log"
    url = f"http://127.0.0.1:{env['RECEIVER_PORT']}"
    with receiver_process(env, log) as supervisor:
        asyncio.run(wait_ready(supervisor, url, log, timeout_s=60))
        yield Registry(env, url, log)


# About twenty commands, each a process reading the registry: a few seconds apiece on a busy machine.
@pytest.mark.timeout(300)
async def test_sources_added_rotated_disabled_and_deleted_while_two_workers_run(
    registry: Registry, kafka_bootstrap: str, unique: str
) -> None:
    topic = f"it.{unique}.events"
    first, second, third = f"first-{unique}", f"second-{unique}", f"third-{unique}"
    source = added_id(
        registry.command(
            "add",
            "--provider",
            "hmac",
            "--tenant",
            "acme",
            "--topic",
            topic,
            "--secret-stdin",
            stdin=first,
            process=True,
        )
    )
    assert await registry.applied_everywhere() < PROPAGATION_S
    assert await statuses(registry.url, source, first, "evt_1") == [202] * CONNECTIONS
    assert await statuses(registry.url, source, second, "evt_1") == [401] * CONNECTIONS

    # Another tenant's source, the same provider and event id: its own event, told apart by the tenant.
    registry.env["OTHER_SECRET"] = third
    other = added_id(
        registry.command(
            "add", "--provider", "hmac", "--tenant", "globex", "--topic", topic, "--secret-env", "OTHER_SECRET"
        )
    )
    assert await registry.applied_everywhere() < PROPAGATION_S
    assert await statuses(registry.url, other, third, "evt_1") == [202] * CONNECTIONS

    # Rotation: the new secret and, for the window, the old one.
    assert "the old one valid until" in registry.command("rotate", source, "--secret-stdin", stdin=second)
    assert await registry.applied_everywhere() < PROPAGATION_S
    assert await statuses(registry.url, source, second, "evt_2") == [202] * CONNECTIONS
    assert await statuses(registry.url, source, first, "evt_3") == [202] * CONNECTIONS
    # A short window: once it ends, the old secret is refused by every worker.
    rotated = registry.command("rotate", source, "--secret-stdin", "--keep-old-for", "6s", stdin=third)
    assert await registry.applied_everywhere() < PROPAGATION_S
    assert await statuses(registry.url, source, second, "evt_4") == [202] * CONNECTIONS
    until = datetime.fromisoformat(rotated.rsplit(" ", 1)[1].strip())
    # Meanwhile, bad input: one line each, exit code 2, nothing written (the position stays where it was).
    for args, stdin in [
        (("add", "--provider", "nope", "--secret-stdin"), "x"),
        (("add", "--provider", "hmac", "--tenant", "Acme/EU", "--secret-stdin"), "x"),
        (("add", "--provider", "hmac", "--id", other, "--secret-stdin"), "x"),
        (("rotate", other, "--secret-stdin", "--keep-old-for", "forever"), "x"),
        (("add", "--provider", "hmac"), ""),
    ]:
        out = registry.command(*args, stdin=stdin, expect=2)
        assert out.count("\n") == 1, out
    await asyncio.sleep((until - datetime.now(UTC)).total_seconds() + 1.5)
    assert await statuses(registry.url, source, second, "evt_5") == [401] * CONNECTIONS
    assert await statuses(registry.url, source, third, "evt_6") == [202] * CONNECTIONS

    registry.command("disable", source)
    assert await registry.applied_everywhere() < PROPAGATION_S
    assert await statuses(registry.url, source, third, "evt_7") == [404] * CONNECTIONS
    assert "already" in registry.command("disable", source)
    registry.command("enable", source)
    assert await registry.applied_everywhere() < PROPAGATION_S
    assert await statuses(registry.url, source, third, "evt_8") == [202] * CONNECTIONS
    registry.command("delete", source)
    assert await registry.applied_everywhere() < PROPAGATION_S
    assert await statuses(registry.url, source, third, "evt_9") == [404] * CONNECTIONS
    assert await statuses(registry.url, other, third, "evt_9") == [202] * CONNECTIONS

    gone = registry.command("rotate", source, "--secret-stdin", stdin="x", expect=2)
    assert gone.count("\n") == 1, gone
    listed = registry.command("list")
    assert other in listed
    assert source not in listed
    assert {row["id"]: row["secrets"] for row in orjson.loads(registry.command("list", "--json"))}[other] == 1

    # Every event accepted is a record, with its tenant in the envelope, our header and the CloudEvents one.
    records = await read_topic(kafka_bootstrap, topic, expect=CONNECTIONS * 8)
    tenants = {(orjson.loads(r.value)["tenant"], r.headers["webhook-tenant"], r.headers["ce_tenant"]) for r in records}
    assert tenants == {(b.decode(), b, b) for b in (b"acme", b"globex")}

    # No secret anywhere an operator looks: logs (DEBUG), metrics, every command's output, the registry's topic.
    async with httpx.AsyncClient(base_url=registry.url) as http:
        metrics = (await http.get("/metrics")).text
    stored = await read_topic(kafka_bootstrap, registry.env["WEBHOOK_REGISTRY_TOPIC"], expect=registry.written)
    seen = [registry.log.read_text(), metrics, *registry.outputs, *(r.value.decode() for r in stored if r.value)]
    for secret in (first, second, third):
        for text in seen:
            assert secret not in text
            assert base64.b64encode(secret.encode()).decode() not in text
    assert 'source="registry"' in metrics
    assert source not in metrics


async def test_a_rate_gives_429_with_retry_after_and_nothing_over_it_is_published(
    registry: Registry, served: str, kafka_bootstrap: str, unique: str
) -> None:
    # The sources file's source works beside the registry, and a registry source of its name can't replace it.
    static = f"static-{served}"
    registry.command("add", "--provider", "hmac", "--id", static, "--secret-stdin", stdin=f"taken-{unique}")
    await registry.applied_everywhere()
    assert await statuses(registry.url, static, f"static-{served}", "evt_static") == [202] * CONNECTIONS
    assert await statuses(registry.url, static, f"taken-{unique}", "evt_taken") == [401] * CONNECTIONS
    assert "sources file or environment defines it" in registry.log.read_text()

    topic = f"it.{unique}.rated"
    secret = f"rated-{unique}"
    source = added_id(
        registry.command("add", "--provider", "hmac", "--rate", "4", "--topic", topic, "--secret-stdin", stdin=secret)
    )
    await registry.applied_everywhere()
    started = time.monotonic()
    answers: list[httpx.Response] = []
    async with httpx.AsyncClient(base_url=registry.url, timeout=10) as http:
        for n in range(40):
            body = orjson.dumps({"id": f"evt_{n}", "type": "t"})
            answers.append(await http.post(f"/webhooks/{source}", content=body, headers=hmac_headers(body, secret)))
    elapsed_s = time.monotonic() - started
    accepted = [r for r in answers if r.status_code == 202]
    limited = [r for r in answers if r.status_code == 429]
    assert len(accepted) + len(limited) == len(answers)
    # At most the rate over the time taken, and one second's burst (shared out over the two workers).
    assert 1 <= len(accepted) <= 4 * (elapsed_s + 1)
    assert limited
    assert {r.json()["error"] for r in limited} == {"rate_limited"}
    assert all(int(r.headers["retry-after"]) >= 1 for r in limited)
    assert await scraped(registry.url, len(limited), "rate_limited") == len(limited)
    async with httpx.AsyncClient(base_url=registry.url) as http:
        assert gauge((await http.get("/metrics")).text, "webhooks_received_total") >= len(answers)
    records = await read_topic(kafka_bootstrap, topic, expect=len(accepted))
    assert sorted(r.key.decode() for r in records) == sorted(r.json()["id"] for r in accepted)


async def test_the_master_key_rotates_and_reencrypt_moves_every_secret_to_the_new_one(
    kafka_bootstrap: str, unique: str
) -> None:
    commands = Registry(registry_env(kafka_bootstrap, unique), url="", log=Path())
    old = commands.env["WEBHOOK_MASTER_KEYS"]
    new = base64.b64encode(os.urandom(32)).decode()
    source = added_id(commands.command("add", "--provider", "hmac", "--secret-stdin", stdin=f"s-{unique}"))
    # Sealed with the old key: with the new key alone, a command that opens the secrets refuses, changing nothing.
    commands.env["WEBHOOK_MASTER_KEYS"] = new
    refused = commands.command("rotate", source, "--secret-stdin", stdin="t", expect=2)
    assert "not configured" in refused
    commands.env["WEBHOOK_MASTER_KEYS"] = f"{new},{old}"
    assert commands.command("reencrypt").startswith("re-encrypted 1 secrets of 1 sources")
    assert commands.command("reencrypt").startswith("re-encrypted 0 secrets of 0 sources")
    commands.env["WEBHOOK_MASTER_KEYS"] = new
    assert "2 secrets" in commands.command("rotate", source, "--secret-stdin", stdin=f"t-{unique}")
    stored = await read_topic(kafka_bootstrap, commands.env["WEBHOOK_REGISTRY_TOPIC"], expect=3)
    assert all(f"-{unique}" not in r.value.decode() for r in stored)

    # No Kafka: one line and exit code 1 (a failure, not bad input).
    commands.env["KAFKA_BOOTSTRAP_SERVERS"] = f"127.0.0.1:{free_port()}"
    unreachable = commands.command("list", expect=1)
    assert unreachable.count("\n") == 1
    assert "Kafka did not take" in unreachable
