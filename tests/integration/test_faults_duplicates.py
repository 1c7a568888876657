"""A duplicate storm: one delivery posted 50 times at once across two receivers, one consumer group.

A provider that times out and retries aggressively, behind a load balancer, does exactly this. Every copy
must be accepted (the provider must not see failures), every copy lands in Kafka, and the group's handler
runs once: the other 49 are counted as duplicates.
"""

from __future__ import annotations

import asyncio

import orjson
import pytest
import redis.asyncio

from consumers.idempotency import IdempotencyStore, claim_key
from receiver.sources import Source
from receiver.verify import HmacScheme
from schemas import Envelope
from tests.integration.kafka_tools import ReceiverFactory, read_topic
from tests.integration.polling import eventually
from tests.integration.workers import GroupFactory, WorkerFactory
from tests.signing import hmac_headers

pytestmark = pytest.mark.fault

COPIES = 50


async def test_fifty_concurrent_copies_across_two_receivers_run_the_handler_once(
    consumer_group: GroupFactory,
    worker: WorkerFactory,
    receiver: ReceiverFactory,
    kafka_bootstrap: str,
    redis_client: redis.asyncio.Redis,
    unique: str,
) -> None:
    consumers = await consumer_group(name="storm")
    topic, group = consumers.topics.topic, consumers.name
    event_id = f"evt_storm_{unique}"
    body = orjson.dumps({"id": event_id, "type": "order.created", "amount": 4200})
    headers = hmac_headers(body, "storm-secret")
    source = Source("hmac", HmacScheme(), (b"storm-secret",), topic)
    receivers = [await receiver(source), await receiver(source)]

    running, _ = await worker(consumers)
    responses = await asyncio.gather(
        *(receivers[n % 2].post("/webhooks/hmac", content=body, headers=headers) for n in range(COPIES))
    )
    answers = [(response.status_code, response.json()) for response in responses]
    await eventually(lambda: running.outcome("ok") + running.outcome("duplicate") == COPIES, f"{COPIES} records")
    await asyncio.sleep(0.5)  # room for a wrongly repeated run to show up before counting

    assert answers == [(202, {"status": "accepted", "id": event_id})] * COPIES
    records = await read_topic(kafka_bootstrap, topic, expect=COPIES)
    assert [Envelope.from_bytes(record.value).id for record in records] == [event_id] * COPIES
    assert len({record.partition for record in records}) == 1  # same key, same partition, from both receivers
    assert [(called_id, attempt) for called_id, attempt, _ in running.calls] == [(event_id, 1)]
    assert (running.outcome("ok"), running.outcome("duplicate")) == (1, COPIES - 1)
    assert running.sample("webhooks_duplicates_total") == COPIES - 1
    assert running.sample("webhooks_consumed_total") == COPIES
    assert await IdempotencyStore(redis_client).is_done([claim_key(group, "hmac", event_id)]) == [True]
