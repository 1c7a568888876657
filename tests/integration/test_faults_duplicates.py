"""A duplicate storm: one delivery posted 50 times at once across two receivers, one consumer group.

A provider that times out and retries aggressively, behind a load balancer, does exactly this. Every copy
must be accepted (the provider must not see failures), every copy lands in Kafka, and the group's handler
runs once: the other 49 are counted as duplicates.
"""

from __future__ import annotations

import asyncio

import httpx
import orjson
import pytest
import redis.asyncio
from prometheus_client import CollectorRegistry

from consumers.idempotency import IdempotencyStore, claim_key
from receiver.app import Receiver, create_app
from receiver.settings import ReceiverSettings
from receiver.sources import Source
from receiver.verify import HmacScheme
from schemas import Envelope
from schemas.topics import GroupTopics
from tests.integration.kafka_tools import read_topic, serving
from tests.integration.polling import eventually
from tests.integration.workers import make_settings, running_worker
from tests.signing import hmac_headers

pytestmark = pytest.mark.fault

COPIES = 50


async def test_fifty_concurrent_copies_across_two_receivers_run_the_handler_once(
    kafka_bootstrap: str, redis_url: str, redis_client: redis.asyncio.Redis, unique: str
) -> None:
    topic = f"it.{unique}.storm"
    group = f"storm-{unique}"
    event_id = f"evt_storm_{unique}"
    body = orjson.dumps({"id": event_id, "type": "order.created", "amount": 4200})
    headers = hmac_headers(body, "storm-secret")

    def receiver() -> Receiver:
        return create_app(
            ReceiverSettings(kafka_bootstrap_servers=kafka_bootstrap, kafka_topic_partitions=2),
            sources={"hmac": Source("hmac", HmacScheme(), (b"storm-secret",), topic)},
            registry=CollectorRegistry(),
        )

    route = GroupTopics("hmac", topic, f"{topic}.{group}.retry", f"{topic}.{group}.dlq")
    async with (
        serving(receiver()) as url_a,
        serving(receiver()) as url_b,
        httpx.AsyncClient(timeout=15, limits=httpx.Limits(max_connections=COPIES)) as http,
        running_worker(make_settings(kafka_bootstrap, redis_url, group), route, IdempotencyStore(redis_client)) as (
            worker,
            _,
        ),
    ):
        urls = [url_a if n % 2 == 0 else url_b for n in range(COPIES)]
        responses = await asyncio.gather(
            *(http.post(f"{u}/webhooks/hmac", content=body, headers=headers) for u in urls)
        )
        answers = [(response.status_code, response.json()) for response in responses]
        await eventually(lambda: worker.outcome("ok") + worker.outcome("duplicate") == COPIES, f"{COPIES} records")
        await asyncio.sleep(0.5)  # room for a wrongly repeated run to show up before counting

    assert answers == [(202, {"status": "accepted", "id": event_id})] * COPIES
    records = await read_topic(kafka_bootstrap, topic, expect=COPIES)
    assert [Envelope.from_bytes(record.value).id for record in records] == [event_id] * COPIES
    assert len({record.partition for record in records}) == 1  # same key, same partition, from both receivers
    assert [(called_id, attempt) for called_id, attempt, _ in worker.calls] == [(event_id, 1)]
    assert (worker.outcome("ok"), worker.outcome("duplicate")) == (1, COPIES - 1)
    assert worker.sample("webhooks_duplicates_total") == COPIES - 1
    assert worker.sample("webhooks_consumed_total") == COPIES
    assert await IdempotencyStore(redis_client).is_done([claim_key(group, "hmac", event_id)]) == [True]
