"""Kafka access for the benchmark: fill a topic with envelopes, read back which ids a topic holds."""

from __future__ import annotations

import random
import time
from datetime import UTC, datetime

import orjson
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient

from kafkaconfig.clients import aiokafka_compression
from kafkaconfig.settings import KafkaSettings
from kafkaconfig.topics import ensure_topics
from schemas import encode_envelope
from schemas.records import RecordFormat

# How long reading a topic back may go without a record before it counts as stuck, in seconds.
READ_BACK_STALL_S = 30


async def create_topic(bootstrap: str, topic: str, partitions: int = 6) -> None:
    """Create `topic` as both processes create theirs (`kafkaconfig.topics.ensure_topics`)."""
    await ensure_topics(KafkaSettings(kafka_bootstrap_servers=bootstrap, kafka_topic_partitions=partitions), [topic])


async def delete_topics(bootstrap: str, *topics: str) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        doomed = [topic for topic in topics if topic in existing]
        if doomed:
            await admin.delete_topics(doomed)
    finally:
        await admin.close()


async def topic_ids(bootstrap: str, topic: str) -> list[str]:
    """The keys (event ids) of every record in the topic, end offsets taken at the start."""
    consumer = AIOKafkaConsumer(topic, bootstrap_servers=bootstrap, group_id=None, auto_offset_reset="earliest")
    await consumer.start()
    ids: list[str] = []
    try:
        await consumer.getmany(timeout_ms=1000)  # joins the assignment; records read here are kept below
        partitions = consumer.assignment()
        end = await consumer.end_offsets(list(partitions))
        await consumer.seek_to_beginning(*partitions)
        progress_at = time.monotonic()
        while True:
            batch = await consumer.getmany(timeout_ms=1000, max_records=10_000)
            for records in batch.values():
                ids.extend(record.key.decode() for record in records)
            positions = [await consumer.position(tp) for tp in partitions]
            if all(position >= end[tp] for position, tp in zip(positions, partitions, strict=True)):
                return ids
            if batch:
                progress_at = time.monotonic()
            elif time.monotonic() - progress_at > READ_BACK_STALL_S:
                # A fetch may come back empty while the broker is busy (a topic of gigabytes, read back after a
                # full run): only a read that makes no headway at all is cut short.
                raise RuntimeError(f"{topic}: no record read for {READ_BACK_STALL_S} s, short of the end offsets")
    finally:
        await consumer.stop()


async def fill_with_envelopes(
    bootstrap: str, topic: str, bodies: list[tuple[str, bytes]], count: int, duplicate_share: float
) -> tuple[int, int]:
    """Produce `count` GitHub envelopes of real bodies, a share of them repeating an earlier id.

    Returns (records produced, distinct ids).
    """
    rng = random.Random(7)
    types = [_github_type(event, body) for event, body in bodies]
    record_format = RecordFormat("github", "github")
    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap,
        acks="all",
        enable_idempotence=True,
        max_batch_size=1 << 20,
        linger_ms=5,
        # Compressed as the receiver compresses them (KAFKA_COMPRESSION): the consumer reads what it would read.
        compression_type=aiokafka_compression(KafkaSettings()),
    )
    await producer.start()
    distinct = 0
    try:
        pending = []
        for _ in range(count):
            # A duplicate is a redelivery of an earlier event: same id, same body, new received_at.
            original = rng.randrange(distinct) if distinct and rng.random() < duplicate_share else None
            if original is None:
                original = distinct
                distinct += 1
            event_id = f"bench-{original}"
            body = bodies[original % len(bodies)][1]
            event_type = types[original % len(bodies)]
            received_at = datetime.now(UTC)
            value = encode_envelope(
                id=event_id,
                source="github",
                provider="github",
                type=event_type,
                received_at=received_at,
                occurred_at=None,
                payload_json=body,
                headers={},
            )
            headers = record_format.headers(id=event_id, type=event_type, time=received_at)
            pending.append(await producer.send(topic, value, key=event_id.encode(), headers=headers))
            if len(pending) >= 2000:
                for future in pending:
                    await future
                pending.clear()
        for future in pending:
            await future
    finally:
        await producer.stop()
    return count, distinct


def _github_type(event: str, body: bytes) -> str:
    action = orjson.loads(body).get("action")
    return f"{event}.{action}" if isinstance(action, str) else event
