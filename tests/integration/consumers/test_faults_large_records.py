"""Large events on their way to the retry and dead-letter topics: whatever the receiver accepted, a consumer
can write again; topics made too small (by a consumer that came first, or by hand) are raised to fit; and a
record no topic will take is dead-lettered without its value instead of wedging its partition.

The edge measured before these sizes were shared: aiokafka's default `max_request_size` (1 MiB) took a retry
record's value up to 1,048,167 bytes (with a typical key and retry headers), while the envelope of a 1 MiB
body is larger than 1,048,576 bytes: every failing event near the body limit wedged its partition.
"""

from __future__ import annotations

import asyncio
import base64
import os
import time
from datetime import UTC, datetime
from typing import Any, Literal

import httpx
import orjson
import pytest
from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType
from prometheus_client import CollectorRegistry

from consumers import Context, Event, Registry
from consumers.errors import PermanentError
from kafkaconfig.topics import ensure_topics
from receiver.app import create_app
from receiver.settings import ReceiverSettings
from receiver.sources import Source
from receiver.verify import HmacScheme
from schemas import Envelope
from schemas.records import RecordFormat
from schemas.topics import (
    DLQ_RETENTION_MS,
    HEADER_ERROR_CLASS,
    HEADER_ERROR_MESSAGE,
    HEADER_ID,
    HEADER_ORIGINAL_OFFSET,
    max_record_bytes,
    min_insync_replicas,
)
from tests.integration.kafka_tools import committed_lag, headers_of, read_topic, serving
from tests.integration.polling import eventually
from tests.integration.workers import GroupFactory, WorkerFactory, make_route, make_settings, outcome
from tests.signing import hmac_headers


def envelope_of_size(event_id: str, size: int) -> bytes:
    """A valid envelope of exactly `size` bytes (a payload padded with random letters: batches are compressed
    (KAFKA_COMPRESSION), and a run of one letter would shrink to a few hundred bytes under any size limit)."""
    base = Envelope(
        id=event_id,
        source="hmac",
        provider="hmac",
        type="order.created",
        received_at=datetime.now(UTC),
        payload={"id": event_id, "pad": ""},
    ).to_bytes()
    pad = base64.b64encode(os.urandom(size))[: size - len(base)]
    value = base.replace(b'"pad":""', b'"pad":"' + pad + b'"')
    assert len(value) == size
    return value


async def produce_large(bootstrap: str, topic: str, event_id: str, value: bytes) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", max_request_size=len(value) + 65_536)
    await producer.start()
    try:
        # The headers the receiver writes: they take room in the retry and dead-letter records too.
        headers = RecordFormat("hmac", "hmac").headers(id=event_id, type="order.created", time=datetime.now(UTC))
        await producer.send_and_wait(topic, value=value, key=event_id.encode(), headers=headers)
    finally:
        await producer.stop()


async def topic_config(bootstrap: str, topic: str) -> dict[str, str]:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        [response] = await admin.describe_configs([ConfigResource(ConfigResourceType.TOPIC, topic)])
    finally:
        await admin.close()
    [resource] = response.resources
    return {name: value for name, value, *_ in resource[4]}


async def set_topic_config(bootstrap: str, topic: str, configs: dict[str, str]) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        await admin.alter_configs([ConfigResource(ConfigResourceType.TOPIC, topic, configs)])
    finally:
        await admin.close()


# The retention an operator set on a topic by hand beside its size: raising the size must keep it.
HAND_RETENTION_MS = "7200000"


async def shrink_by_hand(bootstrap: str, topic: str, *, max_message_bytes: int) -> None:
    """Set the topic's size limit as an operator would, with a retention of their own, and wait until both read
    back: KRaft applies an alteration asynchronously."""
    configs = {"max.message.bytes": str(max_message_bytes), "retention.ms": HAND_RETENTION_MS}
    await set_topic_config(bootstrap, topic, configs)
    deadline = time.monotonic() + 10
    while not configs.items() <= (await topic_config(bootstrap, topic)).items():
        assert time.monotonic() < deadline, "the settings made by hand never read back"
        await asyncio.sleep(0.1)


async def assert_raised_to_fit(bootstrap: str, topic: str, *, max_body_bytes: int) -> None:
    """The topic takes the largest record of a body of `max_body_bytes` now, and kept the retention set by hand."""
    config = await topic_config(bootstrap, topic)
    assert int(config["max.message.bytes"]) >= max_record_bytes(max_body_bytes)
    assert config["retention.ms"] == HAND_RETENTION_MS


async def test_the_largest_event_the_receiver_accepts_is_retried_and_dead_lettered_whole(
    consumer_group: GroupFactory, worker: WorkerFactory, kafka_bootstrap: str
) -> None:
    body_limit = 2 * 1_048_576
    consumers = await consumer_group(consumer_max_attempts=2, max_body_bytes=body_limit)
    route, group = consumers.topics, consumers.name
    # The largest record the receiver can write with this body limit.
    value = envelope_of_size("big", max_record_bytes(body_limit))
    registry = Registry()

    @registry.handler("hmac", "*")
    async def fail(event: Event[Any], context: Context) -> None:
        raise RuntimeError("agent API down") if context.attempt == 1 else PermanentError("still down")

    await produce_large(kafka_bootstrap, route.topic, "big", value)
    metrics, stop = await worker(consumers, registry=registry)
    await eventually(lambda: outcome(metrics, route.provider, group, "dead_lettered") == 1, "the dead letter")
    await stop()

    [dead] = await read_topic(kafka_bootstrap, route.dlq_topic, expect=1)
    assert dead.value == value
    assert headers_of(dead)[HEADER_ERROR_CLASS] == "PermanentError"
    assert await committed_lag(kafka_bootstrap, group, [route.topic, route.retry_topic]) == 0


async def test_topics_made_too_small_are_raised_to_fit_and_keep_their_other_settings(
    kafka_bootstrap: str, redis_url: str, unique: str
) -> None:
    settings = make_settings(kafka_bootstrap, redis_url, f"g-{unique}", max_body_bytes=2 * 1_048_576)
    topic = f"test.{unique}.small"
    await ensure_topics(settings, [topic])
    await shrink_by_hand(kafka_bootstrap, topic, max_message_bytes=100_000)

    await ensure_topics(settings, [topic])

    await assert_raised_to_fit(kafka_bootstrap, topic, max_body_bytes=2 * 1_048_576)


async def test_a_failed_record_no_topic_takes_is_dead_lettered_without_its_value(
    consumer_group: GroupFactory, worker: WorkerFactory, kafka_bootstrap: str
) -> None:
    consumers = await consumer_group()
    route, group = consumers.topics, consumers.name

    async def fail(event: Event[Any], context: Context) -> None:
        raise RuntimeError("agent API down")

    metrics, stop = await worker(consumers, fail)
    # Shrunk by hand after the worker started: the failed event fits neither its retry topic nor its DLQ.
    for topic in (route.retry_topic, route.dlq_topic):
        await set_topic_config(kafka_bootstrap, topic, {"max.message.bytes": "50000"})
    await produce_large(kafka_bootstrap, route.topic, "too_big", envelope_of_size("too_big", 200_000))
    await eventually(lambda: outcome(metrics, route.provider, group, "dead_lettered") == 1, "the dead letter")
    await stop()

    [dead] = await read_topic(kafka_bootstrap, route.dlq_topic, expect=1)
    headers = headers_of(dead)
    assert dead.value is None
    assert headers[HEADER_ID] == "too_big"
    assert "too large" in headers[HEADER_ERROR_MESSAGE]
    assert headers[HEADER_ORIGINAL_OFFSET] == "0"
    assert await committed_lag(kafka_bootstrap, group, [route.topic]) == 0


@pytest.mark.parametrize("client", ["librdkafka", "aiokafka"])
async def test_the_receiver_raises_an_existing_topic_too_small_for_its_body_limit(
    kafka_bootstrap: str, redis_url: str, unique: str, client: Literal["librdkafka", "aiokafka"]
) -> None:
    topic = f"test.{unique}.hmac"
    # Created first by someone else (a consumer of an older version, by hand) with the broker's 1 MiB limit.
    await ensure_topics(make_settings(kafka_bootstrap, redis_url, f"g-{unique}"), [topic])
    await shrink_by_hand(kafka_bootstrap, topic, max_message_bytes=1_048_588)
    settings = ReceiverSettings(
        kafka_bootstrap_servers=kafka_bootstrap, kafka_client=client, max_body_bytes=2 * 1_048_576
    )
    body = orjson.dumps({"id": f"evt_{unique}", "pad": "x" * 1_500_000})
    sources = {"hmac": Source("hmac", HmacScheme(), (b"k",), topic)}
    app = create_app(settings, sources=sources, registry=CollectorRegistry())
    async with serving(app) as url, httpx.AsyncClient(base_url=url, timeout=30) as http:
        response = await http.post("/webhooks/hmac", content=body, headers=hmac_headers(body, "k"))

    assert response.status_code == 202
    await assert_raised_to_fit(kafka_bootstrap, topic, max_body_bytes=2 * 1_048_576)


async def test_dead_letters_are_kept_thirty_days_and_acks_need_the_in_sync_replicas(
    kafka_bootstrap: str, redis_url: str, unique: str
) -> None:
    group = f"g-{unique}"
    route = make_route("hmac", unique, group)
    await ensure_topics(make_settings(kafka_bootstrap, redis_url, group), [route.topic, route.dlq_topic])

    event, dead = await topic_config(kafka_bootstrap, route.topic), await topic_config(kafka_bootstrap, route.dlq_topic)

    assert int(dead["retention.ms"]) == DLQ_RETENTION_MS == 30 * 24 * 3600 * 1000
    assert event["retention.ms"] != dead["retention.ms"]  # the event topic keeps the broker's retention
    # One replica here (the test broker); from three up the topics ask for two.
    assert event["min.insync.replicas"] == dead["min.insync.replicas"] == "1"
    assert [min_insync_replicas(n) for n in (1, 2, 3, 5)] == [1, 1, 2, 2]
