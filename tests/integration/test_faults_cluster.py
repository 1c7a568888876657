"""A replicated cluster loses a broker under load: three KRaft brokers on this machine, every topic
with 3 replicas and `min.insync.replicas=2`; one broker is killed with SIGKILL while events flow.

Every event the receiver acknowledged must be in Kafka afterwards, and the consumer group must carry on and
handle each event once. Senders retry a 503 the way providers do (the receiver answers 503 while a partition
elects a new leader). The cluster is this test's own (`stack.cluster`, also `make cluster-up`).
"""

from __future__ import annotations

import asyncio
import collections
import time
from collections.abc import AsyncIterator
from typing import Any

import httpx
import orjson
import pytest
import redis.asyncio
from prometheus_client import CollectorRegistry

from consumers.idempotency import IdempotencyStore
from receiver.app import create_app
from receiver.settings import ReceiverSettings
from receiver.sources import Source
from receiver.verify import HmacScheme
from schemas import Envelope
from schemas.topics import GroupTopics
from tests.integration.kafka_tools import read_topic, serving
from tests.integration.polling import eventually
from tests.integration.workers import make_settings, running_worker
from tests.repository import stack
from tests.signing import hmac_headers

pytestmark = pytest.mark.fault

EVENTS = 300
SENDERS = 10
KILL_AFTER_ACKS = 100
SECRET = "cluster-secret"


@pytest.fixture
async def brokers(local_stack: tuple[str, str]) -> AsyncIterator[list[Any]]:
    members = stack.cluster(name="kafka-cluster-test")
    for broker in members:
        broker.stop(kill=True)
        broker.wipe()
    try:
        await asyncio.to_thread(stack.start_cluster, members)
        yield members
    finally:
        # Also when one failed to start: the others would outlive the run.
        for broker in members:
            await asyncio.to_thread(broker.stop, kill=True)
            broker.wipe()


async def test_killing_one_of_three_brokers_under_load_loses_and_repeats_nothing(
    brokers: list[Any], redis_url: str, redis_client: redis.asyncio.Redis, unique: str
) -> None:
    bootstrap = ",".join(broker.bootstrap for broker in brokers)
    topic = f"it.{unique}.replicated"
    group = f"replicated-{unique}"
    receiver = create_app(
        ReceiverSettings(
            kafka_bootstrap_servers=bootstrap,
            kafka_topic_partitions=3,
            kafka_replication_factor=3,
            publish_timeout_ms=5000,
            retry_after_s=1,
        ),
        sources={"hmac": Source("hmac", HmacScheme(), (SECRET.encode(),), topic)},
        registry=CollectorRegistry(),
    )
    route = GroupTopics("hmac", topic, f"{topic}.{group}.retry", f"{topic}.{group}.dlq")
    settings = make_settings(bootstrap, redis_url, group, kafka_replication_factor=3)
    acknowledged: list[str] = []
    refused = collections.Counter[int]()
    killed_at: list[float] = []
    queue: asyncio.Queue[int] = asyncio.Queue()
    for n in range(EVENTS):
        queue.put_nowait(n)

    async with (
        serving(receiver) as url,
        httpx.AsyncClient(base_url=url, timeout=30) as http,
        running_worker(settings, route, IdempotencyStore(redis_client)) as (worker, _),
    ):

        async def sender() -> None:
            while not queue.empty():
                n = queue.get_nowait()
                body = orjson.dumps({"id": f"{unique}-{n}", "type": "order.created"})
                deadline = time.monotonic() + 60
                while True:  # a provider retries until it gets a 2xx
                    response = await http.post("/webhooks/hmac", content=body, headers=hmac_headers(body, SECRET))
                    if response.status_code == 202:
                        acknowledged.append(f"{unique}-{n}")
                        break
                    assert response.status_code == 503, response.text
                    refused[response.status_code] += 1
                    assert time.monotonic() < deadline, f"{unique}-{n} never accepted"
                    await asyncio.sleep(0.2)
                if len(acknowledged) == KILL_AFTER_ACKS and not killed_at:
                    killed_at.append(time.monotonic())
                    await asyncio.to_thread(brokers[1].stop, kill=True)

        started = time.monotonic()
        await asyncio.gather(*(sender() for _ in range(SENDERS)))
        sending_s = time.monotonic() - started
        assert killed_at, "the broker was never killed"
        await eventually(lambda: len({event_id for event_id, _, _ in worker.calls}) >= EVENTS, "all handled", 60)
        await asyncio.sleep(0.5)  # a repeated run would show up now

    survivors = ",".join(broker.bootstrap for n, broker in enumerate(brokers) if n != 1)
    records = await read_topic(survivors, topic, expect=EVENTS, timeout_s=30)
    in_kafka = {Envelope.from_bytes(record.value).id for record in records}
    handled = collections.Counter(event_id for event_id, _, _ in worker.calls)
    print(
        f"cluster: {EVENTS} sent, {len(acknowledged)} acknowledged, {sum(refused.values())} 503s retried, "
        f"{len(records)} records, {len(set(acknowledged) - in_kafka)} lost, "
        f"{sum(c - 1 for c in handled.values())} handled twice, {sending_s:.1f}s"
    )
    assert len(acknowledged) == EVENTS
    assert set(acknowledged) <= in_kafka  # nothing acknowledged was lost with the broker
    assert set(handled) == set(acknowledged)
    assert max(handled.values()) == 1  # and nothing ran twice
