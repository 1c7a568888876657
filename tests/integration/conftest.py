"""Factory fixtures of the integration tests, as arq's `worker` and Starlette's `test_client_factory` are:
each builds a real part on the real Kafka and Redis, as many times as a test asks, and stops what it started
when the test ends.

- `consumer_group`: a group of the test's own, its settings and its topics (created).
- `worker`: a worker of a group running in the test's event loop (`Worker.from_settings`, as `python -m
  consumers` builds it), its handler calls recorded.
- `receiver`: the receiver app under a real uvicorn on loopback, publishing to the real broker; an HTTP
  client on it.

When the run ends it deletes the topics named after the suffixes it handed out (`tests/suffixes.py`).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from contextlib import AsyncExitStack
from typing import Any

import httpx
import pytest
import redis.asyncio
from confluent_kafka import KafkaError, KafkaException
from confluent_kafka.admin import AdminClient
from prometheus_client import CollectorRegistry

from consumers.idempotency import IdempotencyStore
from receiver.app import create_app
from receiver.settings import ReceiverSettings
from receiver.sources import Source
from receiver.tracing import Tracing
from tests.integration.kafka_tools import ReceiverFactory, serving
from tests.integration.workers import (
    PARTITIONS,
    Behaviour,
    ConsumerGroup,
    GroupFactory,
    Running,
    Stop,
    WorkerFactory,
    create_topics,
    make_route,
    make_settings,
    running_worker,
)
from tests.suffixes import named_after_ours


@pytest.fixture(scope="session", autouse=True)
def delete_our_topics(kafka_bootstrap: str) -> Iterator[None]:
    """The run's own topics deleted when it ends. Left behind, they pile up on a broker that outlives runs
    (`make up`'s): thousands of topics hold thousands of open files and cost the broker CPU on every request,
    until it stops with "Too many open files"."""
    yield
    admin = AdminClient({"bootstrap.servers": kafka_bootstrap})
    ours = named_after_ours(list(admin.list_topics(timeout=10).topics))
    for topic, deleted in admin.delete_topics(ours, operation_timeout=30).items() if ours else ():
        try:
            deleted.result(timeout=60)
        except KafkaException as exc:
            # Deleted meanwhile by the test itself: nothing left to do. Anything else is worth a line.
            if exc.args[0].code() != KafkaError.UNKNOWN_TOPIC_OR_PART:
                print(f"could not delete the test topic {topic}: {exc}")


@pytest.fixture
def consumer_group(kafka_bootstrap: str, redis_url: str, unique: str) -> GroupFactory:
    """`await consumer_group(provider, name=..., **settings)`: the group `<name>-<unique>` reading
    `test.<unique>.<provider>`, with short retries and timeouts (`make_settings`) and its topics created."""

    async def make(provider: str = "hmac", *, name: str = "g", **settings: Any) -> ConsumerGroup:
        group = f"{name}-{unique}"
        redis = settings.pop("redis_url", redis_url)  # a test's own Redis server, where it has one
        made = ConsumerGroup(
            make_settings(kafka_bootstrap, redis, group, **settings), make_route(provider, unique, group)
        )
        await create_topics(made.settings, made.topics)
        return made

    return make


@pytest.fixture
async def worker(redis_client: redis.asyncio.Redis) -> AsyncIterator[WorkerFactory]:
    """`await worker(group, behaviour, store=None, **options)`: a worker of `group` running until the test ends
    (or its `stop` is awaited), its claims in `store` (by default the test database's); `options` are
    `running_worker`'s (`registry`, `kafka`, `tracing`)."""
    async with AsyncExitStack() as started:

        async def start(
            group: ConsumerGroup,
            behaviour: Behaviour | None = None,
            store: IdempotencyStore | None = None,
            **options: Any,
        ) -> tuple[Running, Stop]:
            store = store if store is not None else IdempotencyStore(redis_client)
            return await started.enter_async_context(
                running_worker(group.settings, group.topics, store, behaviour, **options)
            )

        yield start


@pytest.fixture
async def receiver(kafka_bootstrap: str) -> AsyncIterator[ReceiverFactory]:
    """`await receiver(*sources, tracing=None, **settings)`: an HTTP client on the receiver app of `sources`
    (its spans to `tracing`), served by uvicorn on loopback until the test ends."""
    async with AsyncExitStack() as started:

        async def serve(*sources: Source, tracing: Tracing | None = None, **settings: Any) -> httpx.AsyncClient:
            receiver_settings = ReceiverSettings(
                kafka_bootstrap_servers=kafka_bootstrap, kafka_topic_partitions=PARTITIONS, **settings
            )
            app = create_app(
                receiver_settings,
                sources={source.name: source for source in sources},
                registry=CollectorRegistry(),
                tracing=tracing,
            )
            url = await started.enter_async_context(serving(app))
            return await started.enter_async_context(httpx.AsyncClient(base_url=url, timeout=10))

        yield serve
