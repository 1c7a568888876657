"""`CONSUMER_WORKERS=2` on the real stack: one command runs two members of the group, each event is handled
once, the supervisor's `/metrics` adds both members up exactly, and SIGTERM stops them all."""

from __future__ import annotations

import asyncio
import shutil
import signal
import time
from pathlib import Path

import redis.asyncio
from confluent_kafka.admin import AdminClient
from prometheus_client import CollectorRegistry
from prometheus_client.multiprocess import MultiProcessCollector

from consumers.settings import Settings
from kafkaconfig.topics import ensure_topics
from tests.integration.kafka_tools import envelope, produce
from tests.integration.polling import eventually
from tests.integration.processes import alive, children
from tests.integration.worker_process import PARTITIONS, Group, scrape, worker_process
from tests.integration.workers import outcome

EVENTS = 60
WAIT_S = 60.0


def members(bootstrap: str, group: str) -> int:
    """Members of the group that hold partitions now."""
    admin = AdminClient({"bootstrap.servers": bootstrap})
    [future] = admin.describe_consumer_groups([group], request_timeout=5).values()
    description = future.result(timeout=10)
    return sum(1 for member in description.members if member.assignment.topic_partitions)


def consumed_by(pid: int, metrics_dir: Path, scratch: Path, group: Group) -> float:
    """What one member counted: its own counter file, read alone."""
    scratch.mkdir()
    shutil.copy(metrics_dir / f"counter_{pid}.db", scratch)
    registry = CollectorRegistry()
    MultiProcessCollector(registry, path=str(scratch))  # type: ignore[no-untyped-call]
    value = registry.get_sample_value("webhooks_consumed_total", {"provider": group.provider, "group": group.group})
    return value or 0.0


async def test_two_members_from_one_command_handle_each_event_once_and_count_together(
    kafka_bootstrap: str, redis_url: str, redis_client: redis.asyncio.Redis, unique: str, tmp_path: Path
) -> None:
    group = Group(kafka_bootstrap, redis_url, unique)
    settings = Settings(kafka_bootstrap_servers=kafka_bootstrap, kafka_topic_partitions=PARTITIONS)
    await ensure_topics(settings, [group.topic, group.retry_topic])
    metrics_dir = tmp_path / "metrics"
    env = group.env(CONSUMER_WORKERS="2", PROMETHEUS_MULTIPROC_DIR=str(metrics_dir))
    log = tmp_path / "consumers.log"
    with worker_process(env, log) as supervisor:
        await eventually(lambda: len(children(supervisor.pid)) == 2, "two members", WAIT_S)
        pids = children(supervisor.pid)
        deadline = time.monotonic() + WAIT_S
        # Events sent once both members hold partitions, so that both have work.
        while await asyncio.to_thread(members, kafka_bootstrap, group.group) < 2:
            assert time.monotonic() < deadline, f"the members never shared the partitions: {log.read_text()[-3000:]}"
            assert supervisor.poll() is None, log.read_text()[-3000:]
            await asyncio.sleep(0.5)

        ids = [f"evt_{i:03d}" for i in range(EVENTS)]
        await produce(
            kafka_bootstrap, group.topic, [(i, envelope(i, provider=group.provider)) for i in ids], group.provider
        )
        while len(await group.done(redis_client, ids)) < EVENTS:
            assert time.monotonic() < deadline, f"not every event was handled: {log.read_text()[-3000:]}"
            await asyncio.sleep(0.2)

        assert outcome(await scrape(env), group.provider, group.group, "ok") == EVENTS
        assert await group.counts(redis_client, "effects", ids) == dict.fromkeys(ids, 1)
        for n, pid in enumerate(sorted(pids)):
            assert consumed_by(pid, metrics_dir, tmp_path / f"alone{n}", group) > 0, f"member {pid} idle"

        supervisor.send_signal(signal.SIGTERM)
        assert supervisor.wait(timeout=WAIT_S) == 0
        await eventually(lambda: not any(alive(pid) for pid in pids), "every member stopped", WAIT_S)
