"""Consumer-group workers run in the test's own event loop, on the real Kafka and Redis.

`running_worker` is the one way the integration tests run a worker in process; it builds it as
`python -m consumers` does (`Worker.from_settings`). `outcome` reads `webhooks_processed_total`, summed over
its handlers, from any source of samples: a running worker, a worker's metrics registry, or a scrape of a
worker process.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine, Iterable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any, Protocol

from prometheus_client import CollectorRegistry
from prometheus_client.metrics_core import Metric

from consumers.handlers import Context, Event
from consumers.idempotency import IdempotencyStore
from consumers.kafka import KafkaClient
from consumers.metrics import ConsumerMetrics
from consumers.registry import Registry
from consumers.settings import Settings
from consumers.tracing import Tracing
from consumers.worker import Worker
from kafkaconfig.topics import ensure_topics
from schemas.topics import GroupTopics
from tests.integration.polling import WAIT_S

# Partitions of the topics in-process workers read: two, so per-partition order and commits are exercised.
PARTITIONS = 2


class Samples(Protocol):
    """What a metrics registry answers (`prometheus_client.CollectorRegistry.collect`)."""

    def collect(self) -> Iterable[Metric]: ...


def total(samples: Samples, name: str, **labels: str) -> float:
    """The sum of the samples named `name` whose labels include `labels` (the others summed over)."""
    wanted = labels.items()
    return sum(
        sample.value
        for family in samples.collect()
        for sample in family.samples
        if sample.name == name and wanted <= sample.labels.items()
    )


def outcome(samples: Samples, provider: str, group: str, name: str) -> float:
    """How many records of `provider` the group resolved with outcome `name`, summed over the handlers (a record
    counts once per handler it concerned: once for a group with one handler)."""
    return total(samples, "webhooks_processed_total", provider=provider, group=group, outcome=name)


def counting_registry(*, delay_s: float = 0.0) -> tuple[Registry[Any], Counter[str]]:
    """A registry whose handler of every `hmac` event counts its runs per event id (the counter returned), then
    takes `delay_s`."""
    calls: Counter[str] = Counter()
    registry: Registry[Any] = Registry()

    @registry.handler("hmac", "*")
    async def handle(event: Event[Any], context: Context) -> None:
        calls[event.id] += 1
        await asyncio.sleep(delay_s)

    return registry, calls


def make_settings(kafka_bootstrap: str, redis_url: str, group: str, **overrides: Any) -> Settings:
    """A group's settings with short retries and timeouts, so a test sees its retries and dead letters quickly."""
    values: dict[str, Any] = {
        "kafka_bootstrap_servers": kafka_bootstrap,
        "kafka_topic_partitions": PARTITIONS,
        "redis_url": redis_url,
        "consumer_group": group,
        "consumer_handlers": (),
        "consumer_retry_backoff_ms": 50,
        "consumer_max_attempts": 3,
        "consumer_handler_timeout_s": 5,
        "consumer_shutdown_grace_s": 5,
    }
    values.update(overrides)
    return Settings(**values)


def make_route(provider: str, unique: str, group: str) -> GroupTopics:
    """The topics of a group of the test's own: `test.<unique>.<provider>` and its retry and DLQ topics."""
    base = f"test.{unique}.{provider}"
    return GroupTopics(provider, base, f"{base}.{group}.retry", f"{base}.{group}.dlq")


async def create_topics(settings: Settings, route: GroupTopics) -> None:
    """The group's event, retry and DLQ topics, created as `python -m consumers` creates them."""
    await ensure_topics(settings, [route.topic, route.retry_topic, route.dlq_topic])


@dataclass(frozen=True)
class ConsumerGroup:
    """A consumer group of a test's own: its settings and the topics it reads and writes."""

    settings: Settings
    topics: GroupTopics

    @property
    def name(self) -> str:
        return self.settings.consumer_group


@dataclass
class Running:
    """A worker running in process: its settings, topics, metrics and Kafka adapter, and the handler calls
    `(event id, attempt, monotonic time)` of the recording handler."""

    settings: Settings
    route: GroupTopics
    metrics: ConsumerMetrics
    kafka: KafkaClient
    calls: list[tuple[str, int, float]] = field(default_factory=list)

    def collect(self) -> Iterable[Metric]:
        return self.metrics.registry.collect()

    def sample(self, name: str, **labels: str) -> float:
        return total(self, name, provider=self.route.provider, group=self.settings.consumer_group, **labels)

    def outcome(self, name: str) -> float:
        return outcome(self, self.route.provider, self.settings.consumer_group, name)


Behaviour = Callable[[Event[Any], Context], Awaitable[None]]
Stop = Callable[[], Coroutine[Any, Any, None]]


@asynccontextmanager
async def running_worker(
    settings: Settings,
    route: GroupTopics,
    store: IdempotencyStore,
    behaviour: Behaviour | None = None,
    *,
    registry: Registry | None = None,
    kafka: KafkaClient | None = None,
    tracing: Tracing | None = None,
) -> AsyncIterator[tuple[Running, Stop]]:
    """A worker of `settings`' group on `route`, running in the background (its topics created first).

    Its handlers are `registry`'s; without one, a handler of every event of `route.provider` records the call
    in `Running.calls` and then awaits `behaviour`. Yields the running worker and a `stop` that waits for it
    to end; a worker not stopped by the test is stopped on the way out.
    """
    await create_topics(settings, route)
    kafka = kafka if kafka is not None else KafkaClient.from_settings(settings)
    running = Running(settings, route, ConsumerMetrics(CollectorRegistry()), kafka)
    if registry is None:
        registry = Registry()

        @registry.handler(route.provider, "*")
        async def record(event: Event[Any], context: Context) -> None:
            running.calls.append((event.id, context.attempt, time.monotonic()))
            if behaviour is not None:
                await behaviour(event, context)

    worker = Worker.from_settings(
        settings, registry, store=store, metrics=running.metrics, kafka=kafka, topics=[route], tracing=tracing
    )
    task = asyncio.create_task(worker.run())

    async def stop() -> None:
        worker.stop()
        await asyncio.wait_for(task, WAIT_S)

    try:
        yield running, stop
    finally:
        if not task.done():
            await stop()


class GroupFactory(Protocol):
    """The `consumer_group` fixture."""

    def __call__(self, provider: str = "hmac", *, name: str = "g", **settings: Any) -> Awaitable[ConsumerGroup]: ...


class WorkerFactory(Protocol):
    """The `worker` fixture."""

    def __call__(
        self,
        group: ConsumerGroup,
        behaviour: Behaviour | None = None,
        store: IdempotencyStore | None = None,
        **options: Any,
    ) -> Awaitable[tuple[Running, Stop]]: ...
