"""Test-side control of `python -m consumers` subprocesses that run `tests.integration.counting_handlers`."""

from __future__ import annotations

import asyncio
import signal
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable, Iterable, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path

import httpx
import redis.asyncio
from prometheus_client.metrics_core import Metric
from prometheus_client.parser import text_string_to_metric_families

from consumers.idempotency import Client, IdempotencyStore, claim_key
from consumers.settings import Settings
from kafkaconfig.topics import ensure_topics
from schemas.topics import event_topic, retry_topic
from tests.integration.kafka_tools import committed_lag, envelope, produce
from tests.integration.ports import free_port
from tests.integration.processes import clean_environ, run_to_end, started
from tests.integration.workers import outcome

# Three partitions: room for the two members of `CONSUMER_WORKERS=2` and for a killed member's hand-over.
PARTITIONS = 3


@dataclass(frozen=True)
class Group:
    """A consumer group of its own, on a provider of its own (so its topics are `webhooks.<provider>...`)."""

    bootstrap: str
    redis_url: str
    unique: str

    @property
    def provider(self) -> str:
        return f"p{self.unique}"

    @property
    def group(self) -> str:
        return f"g{self.unique}"

    @property
    def topic(self) -> str:
        return event_topic(self.provider)

    @property
    def retry_topic(self) -> str:
        return retry_topic(self.provider, self.group)

    def env(self, **extra: str) -> dict[str, str]:
        clean = clean_environ()
        return {
            **clean,
            "KAFKA_BOOTSTRAP_SERVERS": self.bootstrap,
            "KAFKA_TOPIC_PARTITIONS": str(PARTITIONS),
            "REDIS_URL": self.redis_url,
            "CONSUMER_GROUP": self.group,
            "CONSUMER_PROVIDERS": self.provider,
            "CONSUMER_HANDLERS": "tests.integration.counting_handlers",
            "CONSUMER_METRICS_PORT": str(free_port()),
            # A crashed member's claims expire fast and its partitions move after the broker's minimum session.
            "CONSUMER_LEASE_MS": "1500",
            "CONSUMER_HANDLER_TIMEOUT_S": "15",
            "CONSUMER_SESSION_TIMEOUT_MS": "6000",
            "CONSUMER_SHUTDOWN_GRACE_S": "10",
            "COUNT_REDIS_URL": self.redis_url,
            "COUNT_PREFIX": self.unique,
            **extra,
        }

    async def count(self, client: redis.asyncio.Redis, what: str, event_id: str) -> int:
        return int(await client.get(f"{self.unique}:{what}:{event_id}") or 0)

    async def counts(self, client: redis.asyncio.Redis, what: str, ids: Sequence[str]) -> dict[str, int]:
        values = await client.mget([f"{self.unique}:{what}:{event_id}" for event_id in ids])
        return {event_id: int(value or 0) for event_id, value in zip(ids, values, strict=True)}

    async def all_handled(self, client: redis.asyncio.Redis, ids: Sequence[str]) -> bool:
        """Every event's side effect counted (in `client`), and nothing left to commit on the event and retry
        topics."""
        effects = await self.counts(client, "effects", ids)
        lag = await committed_lag(self.bootstrap, self.group, [self.topic, self.retry_topic], partitions=PARTITIONS)
        return min(effects.values()) >= 1 and lag == 0

    async def done(self, client: Client, ids: Sequence[str]) -> set[str]:
        """The events of `ids` the group has handled, in the idempotency store behind `client`."""
        flags = await IdempotencyStore(client).is_done([claim_key(self.group, self.provider, i) for i in ids])
        return {event_id for event_id, done in zip(ids, flags, strict=True) if done}


def worker_process(env: dict[str, str], log: Path) -> AbstractContextManager[subprocess.Popen[bytes]]:
    """`python -m consumers` in the background, its output in `log`; killed on the way out if still running."""
    return started([sys.executable, "-m", "consumers"], env, log)


async def wait_while_running(
    process: subprocess.Popen[bytes], log: Path, done: Callable[[], Awaitable[bool]], *, timeout_s: float = 60
) -> None:
    """Poll `done` until it holds; fail with the worker's log if the process dies or `timeout_s` passes first."""
    deadline = time.monotonic() + timeout_s
    while not await done():
        assert process.poll() is None, _read(log)
        assert time.monotonic() < deadline, _read(log)[-3000:]
        await asyncio.sleep(0.2)


def _read(log: Path) -> str:
    # Read only when an assertion fails: the test ends there.
    return log.read_text()


def terminate(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM the worker process; it must drain and exit 0."""
    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=20) == 0


def replay_cli(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    """`python -m consumers replay ARGS`, run to its end."""
    return run_to_end([sys.executable, "-m", "consumers", "replay", *args], env)


async def prepare(group: Group, count: int) -> list[str]:
    """The group's topics, and `count` events `evt_000`... on its event topic; returns their ids."""
    settings = Settings(kafka_bootstrap_servers=group.bootstrap, kafka_topic_partitions=PARTITIONS)
    await ensure_topics(settings, [group.topic, group.retry_topic])
    ids = [f"evt_{i:03d}" for i in range(count)]
    await produce(
        group.bootstrap, group.topic, [(i, envelope(i, provider=group.provider)) for i in ids], group.provider
    )
    return ids


@dataclass(frozen=True)
class Scrape:
    """The samples of one scrape of a worker's /metrics, read as a registry is (`collect`)."""

    families: list[Metric]

    def collect(self) -> Iterable[Metric]:
        return self.families


async def scrape(env: dict[str, str]) -> Scrape:
    """A scrape of the worker's /metrics."""
    async with httpx.AsyncClient() as http:
        response = await http.get(f"http://127.0.0.1:{env['CONSUMER_METRICS_PORT']}/metrics", timeout=5)
    return Scrape(list(text_string_to_metric_families(response.text)))


async def kill_mid_batch(
    process: subprocess.Popen[bytes],
    group: Group,
    done_in: Client,
    counts_in: redis.asyncio.Redis,
    quick: Sequence[str],
    hanging: Sequence[str],
    log: Path,
) -> int:
    """Once the worker `process` has handled every `quick` event (done in `done_in`) and started every
    `hanging` one (counted in `counts_in`), SIGKILL it; returns what the group left uncommitted."""
    deadline = time.monotonic() + 40
    while (
        len(await group.done(done_in, quick)) < len(quick)
        or min((await group.counts(counts_in, "started", hanging)).values()) < 1
    ):
        if process.poll() is not None:
            raise AssertionError(f"the first worker exited: see {log}")
        assert time.monotonic() < deadline, "the first worker did not get to the middle of the batch"
        await asyncio.sleep(0.1)
    await asyncio.sleep(0.5)  # its commits of what is done have landed
    left_uncommitted = await committed_lag(group.bootstrap, group.group, [group.topic], partitions=PARTITIONS)
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=10)
    return left_uncommitted


@dataclass(frozen=True)
class Recovery:
    """What `killed_mid_batch_and_recovered` did: the events, those caught by the kill and those done before it,
    what the kill left uncommitted, how long the second worker took, and its metrics at the end."""

    ids: list[str]
    hanging: list[str]
    quick: list[str]
    left_uncommitted: int
    recovered_s: float
    samples: Scrape


async def killed_mid_batch_and_recovered(
    group: Group, claims_in: Client, counts_in: redis.asyncio.Redis, tmp_path: Path
) -> Recovery:
    """60 events; a worker SIGKILLed in the middle of a batch, then a second one until every side effect happened
    (claims in `claims_in`, side effects counted in `counts_in`). Checks what holds wherever the claims live: each
    side effect happened once, the interrupted events ran again and the finished ones did not, and what was done
    above the commit point came back as duplicates."""
    ids = await prepare(group, 60)
    # Every fifth event's handler is caught by the kill in the middle of its (slow) agent call.
    hanging = [event_id for event_id in ids if int(event_id[4:]) % 5 == 0]
    quick = [event_id for event_id in ids if event_id not in hanging]

    first_env = group.env(COUNT_HANG_EVERY="5", COUNT_SLEEP_S="0.02", CONSUMER_CONCURRENCY="32")
    log = tmp_path / "first.log"
    with worker_process(first_env, log) as first:
        left_uncommitted = await kill_mid_batch(first, group, claims_in, counts_in, quick, hanging, log)
    killed_at = time.monotonic()
    # Killed with claims held, handlers in flight, and done records above the commit point.
    assert await claims_in.get(claim_key(group.group, group.provider, hanging[0])) not in (None, b"done")
    assert left_uncommitted > len(hanging)

    second_env = group.env()
    with worker_process(second_env, tmp_path / "second.log") as second:
        await wait_while_running(second, tmp_path / "second.log", lambda: group.all_handled(counts_in, ids))
        recovered_s = time.monotonic() - killed_at
        samples = await scrape(second_env)
        terminate(second)

    effects = await group.counts(counts_in, "effects", ids)
    started = await group.counts(counts_in, "started", ids)
    assert effects == dict.fromkeys(ids, 1), "every side effect happened exactly once"
    # The interrupted ones ran again (after the dead member's lease), the finished ones never did.
    assert {event_id: started[event_id] for event_id in hanging} == dict.fromkeys(hanging, 2)
    assert {event_id: started[event_id] for event_id in quick} == dict.fromkeys(quick, 1)
    assert outcome(samples, group.provider, group.group, "ok") == len(hanging)
    # Records done before the kill but above its commit point came back: duplicates, not second runs.
    assert outcome(samples, group.provider, group.group, "duplicate") == left_uncommitted - len(hanging)
    return Recovery(ids, hanging, quick, left_uncommitted, recovered_s, samples)
