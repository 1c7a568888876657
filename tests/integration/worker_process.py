"""Test-side control of `python -m consumers` subprocesses that run `tests.integration.counting_handlers`."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import redis.asyncio
from aiokafka import AIOKafkaConsumer, TopicPartition
from prometheus_client.parser import text_string_to_metric_families

from consumers.idempotency import Client, IdempotencyStore, claim_key
from schemas.topics import event_topic, retry_topic
from tests.integration.kafka_tools import free_port

ROOT = Path(__file__).resolve().parents[2]
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
        ours = ("WEBHOOK_", "CONSUMER_", "COUNT_", "KAFKA_", "REDIS_URL", "LOG_LEVEL")
        clean = {key: value for key, value in os.environ.items() if not key.startswith(ours)}
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

    async def done(self, client: Client, ids: Sequence[str]) -> set[str]:
        """The events of `ids` the group has handled, in the idempotency store behind `client`."""
        flags = await IdempotencyStore(client).is_done([claim_key(self.group, self.provider, i) for i in ids])
        return {event_id for event_id, done in zip(ids, flags, strict=True) if done}


@contextmanager
def worker_process(env: dict[str, str], log: Path) -> Iterator[subprocess.Popen[bytes]]:
    """`python -m consumers` in the background, its output in `log`; killed on the way out if still running."""
    with log.open("ab") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "consumers"], cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT
        )
    try:
        yield process
    finally:
        if process.poll() is None:
            process.kill()
        process.wait(timeout=30)


async def scrape(env: dict[str, str]) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    """The samples of a worker's /metrics, by name and labels."""
    async with httpx.AsyncClient() as http:
        response = await http.get(f"http://127.0.0.1:{env['CONSUMER_METRICS_PORT']}/metrics", timeout=5)
    samples = {}
    for family in text_string_to_metric_families(response.text):
        for sample in family.samples:
            samples[(sample.name, frozenset(sample.labels.items()))] = sample.value
    return samples


def outcome(samples: dict[tuple[str, frozenset[tuple[str, str]]], float], group: Group, name: str) -> float:
    labels = frozenset({"provider": group.provider, "group": group.group, "outcome": name}.items())
    return samples.get(("webhooks_processed_total", labels), 0.0)


async def committed_lag(bootstrap: str, group: str, topics: Sequence[str]) -> int:
    """Records of `topics` after the group's committed offsets: what a new member would read again."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=group, enable_auto_commit=False)
    await consumer.start()
    try:
        parts = [TopicPartition(topic, p) for topic in topics for p in range(PARTITIONS)]
        ends = await consumer.end_offsets(parts)
        left = 0
        for part in parts:
            left += ends[part] - (await consumer.committed(part) or 0)
        return left
    finally:
        await consumer.stop()
