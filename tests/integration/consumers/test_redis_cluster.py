"""The consumers on a real Redis Cluster (`REDIS_CLUSTER=true`): three masters started here, with a replica
each, on free ports. A worker SIGKILLed mid-stream, a master killed under load and failed over to its
replica, and the replay command. The handlers count their side effects in the test Redis (a system of their
own), so the counts are what a user would see.
"""

from __future__ import annotations

import asyncio
import shutil
import signal
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import redis.asyncio

from consumers.errors import StoreUnavailable
from consumers.idempotency import Claim, IdempotencyStore, claim_key
from consumers.settings import Settings
from kafkaconfig.topics import ensure_topics
from schemas.topics import GroupTopics
from tests.integration.kafka_tools import committed_lag, dead_letter, envelope, produce
from tests.integration.ports import free_port
from tests.integration.worker_process import (
    PARTITIONS,
    Group,
    killed_mid_batch_and_recovered,
    prepare,
    replay_cli,
    scrape,
    worker_process,
)
from tests.integration.workers import outcome
from tests.repository import stack

MASTERS = 3

pytestmark = pytest.mark.fault


class Cluster:
    """Three masters and their replicas, and a cluster client of the test's own."""

    def __init__(self, nodes: list[Any]) -> None:
        self.nodes = nodes
        self.url = f"redis://127.0.0.1:{nodes[0].port}/0"
        self.client = redis.asyncio.RedisCluster.from_url(self.url)

    async def masters(self) -> list[int]:
        """The client ports of the nodes serving slots now."""
        ports = []
        for node in self.nodes:
            client = redis.asyncio.Redis(port=node.port, socket_timeout=2)
            try:
                if (await client.info("replication"))["role"] == "master" and (await client.dbsize()) >= 0:
                    ports.append(node.port)
            except (redis.exceptions.ConnectionError, OSError):
                pass
            finally:
                await client.aclose()
        return ports

    async def keys_per_master(self, pattern: str) -> dict[int, int]:
        counts = {}
        for port in await self.masters():
            client = redis.asyncio.Redis(port=port)
            try:
                counts[port] = len([key async for key in client.scan_iter(match=pattern, count=1000)])
            finally:
                await client.aclose()
        return counts


@pytest.fixture
async def cluster(local_stack: tuple[str, str], tmp_path: Path) -> AsyncIterator[Cluster]:
    ports = [(free_port(), free_port()) for _ in range(2 * MASTERS)]
    nodes = stack.redis_cluster(ports, name=f"redis-cluster-test-{ports[0][0]}", node_timeout_ms=1000)
    running: Cluster | None = None
    try:
        try:
            await asyncio.to_thread(stack.start_redis_cluster, nodes, MASTERS)
        except stack.StackError as exc:
            pytest.fail(f"the Redis Cluster of this test could not be started: {exc}")
        running = Cluster(nodes)
        yield running
    finally:
        if running is not None:
            await running.client.aclose()
        # Also when a node failed to start: the others would outlive the run.
        for node in nodes:
            await asyncio.to_thread(node.stop, kill=True)
            shutil.rmtree(node.home, ignore_errors=True)


@dataclass(frozen=True)
class ClusterGroup(Group):
    """A group whose claims and marks are on the cluster (`redis_url`), its handlers counting their side effects
    in the test Redis (`count_url`)."""

    count_url: str

    def env(self, **extra: str) -> dict[str, str]:
        return super().env(REDIS_CLUSTER="true", COUNT_REDIS_URL=self.count_url, **extra)


@pytest.fixture
def group(kafka_bootstrap: str, redis_url: str, cluster: Cluster, unique: str) -> ClusterGroup:
    return ClusterGroup(kafka_bootstrap, cluster.url, unique, count_url=redis_url)


async def test_a_worker_killed_mid_stream_on_a_redis_cluster_repeats_no_side_effect(
    redis_client: redis.asyncio.Redis, cluster: Cluster, group: ClusterGroup, tmp_path: Path
) -> None:
    run = await killed_mid_batch_and_recovered(group, cluster.client, redis_client, tmp_path)
    assert await group.done(cluster.client, run.ids) == set(run.ids)
    # The done marks are spread over all three masters.
    spread = await cluster.keys_per_master("webhooks:done:*")
    assert len(spread) == MASTERS
    assert min(spread.values()) > 0, spread


async def test_a_master_failed_over_under_load_loses_no_event_and_costs_what_is_written_down(
    kafka_bootstrap: str, redis_client: redis.asyncio.Redis, cluster: Cluster, group: ClusterGroup, tmp_path: Path
) -> None:
    # Half the events before the kill, half right after it: the stream goes on through the failover.
    before = await prepare(group, 300)
    after = [f"evt_{i:03d}" for i in range(300, 600)]
    ids = before + after
    concurrency = 16
    env = group.env(COUNT_SLEEP_S="0.05", CONSUMER_CONCURRENCY=str(concurrency))
    # Not the node REDIS_URL names: the worker has to find the cluster through it when it starts.
    victim = cluster.nodes[1]

    with worker_process(env, tmp_path / "worker.log") as worker:

        async def effects() -> int:
            return sum((await group.counts(redis_client, "effects", ids)).values())

        deadline = time.monotonic() + 60
        while await effects() < 60:
            assert worker.poll() is None, (tmp_path / "worker.log").read_text()[-3000:]
            assert time.monotonic() < deadline, "the worker did not get going"
            await asyncio.sleep(0.05)

        async def done() -> int:
            try:
                return len(await group.done(cluster.client, ids))
            except StoreUnavailable:
                return -1

        at_kill = await effects()
        done_at_kill = await done()
        await asyncio.to_thread(victim.stop, kill=True)
        killed_at = time.monotonic()
        await produce(
            kafka_bootstrap, group.topic, [(i, envelope(i, provider=group.provider)) for i in after], group.provider
        )
        # Nothing is marked done while a third of the slots has no master (a batch's marks go out together).
        while await done() <= done_at_kill:
            assert worker.poll() is None, (tmp_path / "worker.log").read_text()[-3000:]
            assert time.monotonic() < killed_at + 60, "the worker did not go on after the failover"
            await asyncio.sleep(0.05)
        paused_s = time.monotonic() - killed_at
        while min((await group.counts(redis_client, "effects", ids)).values()) < 1 or await committed_lag(
            kafka_bootstrap, group.group, [group.topic, group.retry_topic], partitions=PARTITIONS
        ):
            assert worker.poll() is None, (tmp_path / "worker.log").read_text()[-3000:]
            assert time.monotonic() < killed_at + 90, (tmp_path / "worker.log").read_text()[-3000:]
            await asyncio.sleep(0.1)
        # The replica took over: three masters serve the slots again.
        assert len(await cluster.masters()) == MASTERS
        after_failover = await group.counts(redis_client, "effects", ids)

        # Every event delivered again: a done mark the dead master acknowledged but had not yet sent to its
        # replica (replication is asynchronous) is forgotten, and that event runs a second time.
        await produce(
            kafka_bootstrap, group.topic, [(i, envelope(i, provider=group.provider)) for i in ids], group.provider
        )
        deadline = time.monotonic() + 60
        while True:
            samples = await scrape(env)
            if outcome(samples, group.provider, group.group, "ok") + outcome(
                samples, group.provider, group.group, "duplicate"
            ) >= 2 * len(ids):
                break
            assert time.monotonic() < deadline, (tmp_path / "worker.log").read_text()[-3000:]
            await asyncio.sleep(0.2)
        worker.send_signal(signal.SIGTERM)
        assert worker.wait(timeout=20) == 0

    final = await group.counts(redis_client, "effects", ids)
    twice_in_failover = sorted(i for i, n in after_failover.items() if n > 1)
    forgotten = sorted(i for i in ids if final[i] > after_failover[i])
    # Nothing lost; at most the events whose marks were in flight at the kill run again.
    assert min(final.values()) >= 1
    assert max(final.values()) <= 2
    assert len(twice_in_failover) + len(forgotten) <= concurrency
    print(
        f"\nfailover: {len(ids)} events, master killed after {at_kill}; marks paused {paused_s:.1f}s; "
        f"ran twice during the failover: {len(twice_in_failover)}; done marks forgotten (ran again on "
        f"redelivery): {len(forgotten)} of {len(ids)}"
    )


async def test_the_replay_command_on_a_redis_cluster_runs_each_dead_letter_once(
    kafka_bootstrap: str, redis_client: redis.asyncio.Redis, cluster: Cluster, group: ClusterGroup
) -> None:
    route = GroupTopics.for_provider(group.provider, group.group)
    await ensure_topics(Settings(kafka_bootstrap_servers=kafka_bootstrap, kafka_topic_partitions=3), [route.dlq_topic])
    ids = [f"evt_{i:03d}" for i in range(12)]
    await dead_letter(kafka_bootstrap, route, ids)
    env = group.env()

    listed = replay_cli(env, "--dry-run")
    assert listed.returncode == 0, listed.stderr
    assert "dry run: 12 selected of 12 dead letters: 12 to replay" in listed.stdout
    first = replay_cli(env, "--rate", "100")
    assert first.returncode == 0, first.stderr
    assert "12 handled, 0 duplicates, 0 failed" in first.stdout
    again = replay_cli(env, "--rate", "100")
    assert "0 handled, 12 duplicates" in again.stdout

    assert await group.counts(redis_client, "effects", ids) == dict.fromkeys(ids, 1)
    assert await group.done(cluster.client, ids) == set(ids)


async def test_per_handler_marks_sit_beside_their_claims_on_a_cluster_and_go_when_the_event_is_done(
    cluster: Cluster,
) -> None:
    store = IdempotencyStore(cluster.client)
    # Twenty events: their claim keys (and so their marks) spread over the three masters' slots.
    keys = [claim_key("g", "hmac", f"evt_{i}") for i in range(20)]
    assert await store.claim(keys, "t", 60_000) == [Claim.CLAIMED] * len(keys)

    await store.mark([(key, "record_order") for key in keys])
    await store.mark([(keys[0], "ask_agent")])

    assert await store.handled(keys) == [{"record_order", "ask_agent"}] + [{"record_order"}] * (len(keys) - 1)
    assert await store.complete(keys, "t") == [True] * len(keys)
    assert await store.handled(keys) == [set()] * len(keys)
    assert await store.is_done(keys) == [True] * len(keys)
    assert sum((await cluster.keys_per_master("webhooks:handled:*")).values()) == 0
