"""Redis goes away in the middle of a stream and comes back: the worker waits, then goes on by itself, and no
event is lost or handled twice. A Redis server of its own (append-only, so `done` marks survive a restart).
"""

from __future__ import annotations

import asyncio
import shutil
import time
from collections import Counter
from collections.abc import AsyncIterator
from typing import Any

import pytest
import redis.asyncio
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff

from consumers.idempotency import IdempotencyStore
from tests.integration.kafka_tools import committed_lag, envelope, produce
from tests.integration.polling import eventually
from tests.integration.ports import RESTART_REDIS_PORT
from tests.integration.workers import GroupFactory, counting_registry, outcome, running_worker
from tests.repository import stack


@pytest.fixture
async def own_redis(local_stack: tuple[str, str]) -> AsyncIterator[Any]:
    server = stack.RedisServer(port=RESTART_REDIS_PORT, name="redis-consumer-restart-test")
    server.stop(kill=True)
    shutil.rmtree(server.home, ignore_errors=True)
    server.start()
    yield server
    await asyncio.to_thread(server.stop)
    shutil.rmtree(server.home, ignore_errors=True)


async def test_a_redis_restart_mid_stream_loses_and_repeats_nothing(
    consumer_group: GroupFactory, kafka_bootstrap: str, own_redis: Any, unique: str
) -> None:
    redis_url = f"redis://127.0.0.1:{RESTART_REDIS_PORT}/0"
    consumers = await consumer_group(consumer_concurrency=2)
    settings, route, group = consumers.settings, consumers.topics, consumers.name
    # As `python -m consumers` builds it: calls fail fast while Redis is away, and the worker retries them.
    client = redis.asyncio.Redis.from_url(
        redis_url, socket_timeout=2, socket_connect_timeout=1, retry=Retry(NoBackoff(), 1)
    )
    registry, calls = counting_registry(delay_s=0.1)

    before = [f"evt_{i}" for i in range(40)]
    during = [f"evt_{i}" for i in range(40, 60)]
    try:
        async with running_worker(settings, route, IdempotencyStore(client), registry=registry) as (metrics, stop):
            await produce(kafka_bootstrap, route.topic, [(i, envelope(i)) for i in before])
            await eventually(lambda: outcome(metrics, route.provider, group, "ok") >= 10, "the stream to get going")
            await asyncio.to_thread(own_redis.stop)
            down_at = time.monotonic()
            ok_when_down = outcome(metrics, route.provider, group, "ok")
            await produce(kafka_bootstrap, route.topic, [(i, envelope(i)) for i in during])
            await asyncio.sleep(2)
            # Nothing is marked done without Redis (the handlers that were running wait to be marked).
            assert outcome(metrics, route.provider, group, "ok") <= ok_when_down + 2
            lag_while_down = await committed_lag(kafka_bootstrap, group, [route.topic])
            await asyncio.to_thread(own_redis.start)
            up_after_s = time.monotonic() - down_at
            await eventually(
                lambda: outcome(metrics, route.provider, group, "ok") == 60, "every event after the restart"
            )
            # The done marks survived the restart: the provider redelivering some events changes nothing.
            await produce(kafka_bootstrap, route.topic, [(i, envelope(i)) for i in before[:5]])
            await eventually(lambda: outcome(metrics, route.provider, group, "duplicate") == 5, "the redeliveries")
            await stop()
    finally:
        await client.aclose()

    assert calls == Counter(dict.fromkeys(before + during, 1)), "every event handled exactly once"
    assert lag_while_down >= len(during)
    assert await committed_lag(kafka_bootstrap, group, [route.topic]) == 0
    print(
        f"\nRedis restart: down {up_after_s:.1f}s after {ok_when_down:.0f} of 60 events; all 60 handled once, "
        f"{lag_while_down} uncommitted while down, 5 redeliveries dropped as duplicates"
    )
