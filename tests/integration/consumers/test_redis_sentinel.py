"""A single Redis with a replica and a Sentinel (`REDIS_SENTINELS`): the master killed under load is failed
over to the replica, and the worker finds the new master by itself. Servers of the test's own, on free ports;
the handlers count their side effects in the test Redis.
"""

from __future__ import annotations

import asyncio
import shutil
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import redis.asyncio

from tests.integration.kafka_tools import committed_lag, envelope, produce
from tests.integration.ports import free_port
from tests.integration.worker_process import PARTITIONS, Group, prepare, worker_process
from tests.repository import stack

pytestmark = pytest.mark.fault


@dataclass
class Watched:
    master: Any
    replica: Any
    sentinel: Any


@pytest.fixture
async def watched(local_stack: tuple[str, str]) -> AsyncIterator[Watched]:
    master_port = free_port()
    master = stack.RedisServer(port=master_port, name=f"redis-sentinel-test-{master_port}", persist=False)
    replica = stack.RedisServer(
        port=free_port(), name=f"redis-sentinel-test-{master_port}-replica", persist=False, replica_of=master_port
    )
    sentinel = stack.RedisSentinel(port=free_port(), master_port=master_port, name=f"redis-sentinel-{master_port}")
    servers = [master, replica, sentinel]
    try:
        for server in servers:
            await asyncio.to_thread(server.start)
        yield Watched(master, replica, sentinel)
    except stack.StackError as exc:
        pytest.fail(f"the Redis and Sentinel of this test could not be started: {exc}")
    finally:
        for server in servers:
            await asyncio.to_thread(server.stop)
            shutil.rmtree(server.home, ignore_errors=True)


async def test_a_master_failed_over_by_sentinel_under_load_loses_and_repeats_nothing(
    kafka_bootstrap: str,
    redis_url: str,
    redis_client: redis.asyncio.Redis,
    watched: Watched,
    unique: str,
    tmp_path: Path,
) -> None:
    group = Group(kafka_bootstrap, f"redis://127.0.0.1:{watched.master.port}/0", unique)
    before = await prepare(group, 200)
    after = [f"evt_{i:03d}" for i in range(200, 400)]
    ids = before + after
    env = group.env(
        REDIS_SENTINELS=f"127.0.0.1:{watched.sentinel.port}",
        REDIS_SENTINEL_MASTER="mymaster",
        COUNT_REDIS_URL=redis_url,
        COUNT_SLEEP_S="0.05",
    )

    async def effects(of: list[str]) -> int:
        return sum(1 for n in (await group.counts(redis_client, "effects", of)).values() if n)

    with worker_process(env, tmp_path / "worker.log") as worker:
        deadline = time.monotonic() + 60
        while await effects(before) < 40:
            assert worker.poll() is None, (tmp_path / "worker.log").read_text()[-3000:]
            assert time.monotonic() < deadline, "the worker did not get going"
            await asyncio.sleep(0.05)
        await asyncio.to_thread(watched.master.stop, kill=True)
        killed_at = time.monotonic()
        await produce(
            kafka_bootstrap, group.topic, [(i, envelope(i, provider=group.provider)) for i in after], group.provider
        )
        # The events sent after the kill need the new master: the first of them is handled once it is found.
        while await effects(after) == 0:
            assert worker.poll() is None, (tmp_path / "worker.log").read_text()[-3000:]
            assert time.monotonic() < killed_at + 60, "the worker did not find the new master"
            await asyncio.sleep(0.05)
        resumed_s = time.monotonic() - killed_at
        while await effects(ids) < len(ids) or await committed_lag(
            kafka_bootstrap, group.group, [group.topic, group.retry_topic], partitions=PARTITIONS
        ):
            assert worker.poll() is None, (tmp_path / "worker.log").read_text()[-3000:]
            assert time.monotonic() < killed_at + 90, (tmp_path / "worker.log").read_text()[-3000:]
            await asyncio.sleep(0.1)

    promoted = redis.asyncio.Redis(port=watched.replica.port)
    try:
        assert (await promoted.info("replication"))["role"] == "master"
    finally:
        await promoted.aclose()
    assert await group.counts(redis_client, "effects", ids) == dict.fromkeys(ids, 1), "each side effect once"
    print(f"\nsentinel failover: {len(ids)} events; the worker went on {resumed_s:.1f}s after the master was killed")
