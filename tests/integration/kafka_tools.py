"""Test-side access to the real broker: write events and dead letters, read what a topic holds and what a group
has left uncommitted, and run a receiver on a free port."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

import httpx
import uvicorn
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from consumers.metrics import Outcome
from consumers.retries import failure_record, now_ms
from receiver.app import Receiver
from receiver.protocol import HttpProtocol
from receiver.sources import Source
from receiver.tracing import Tracing
from schemas import Envelope
from schemas.records import RecordFormat
from schemas.topics import GroupTopics
from tests.integration.ports import free_port
from tests.integration.workers import PARTITIONS


@dataclass(frozen=True)
class Record:
    topic: str
    partition: int
    offset: int
    key: bytes
    value: bytes
    headers: dict[str, bytes]
    timestamp: int  # epoch ms: when the broker got it (CreateTime, the producer's clock: this machine's)


async def read_topic(bootstrap: str, topic: str, *, expect: int, timeout_s: float = 20.0) -> list[Record]:
    """Every record of `topic` from the beginning: waits for `expect` of them and for the end of the topic."""
    consumer = AIOKafkaConsumer(
        topic, bootstrap_servers=bootstrap, enable_auto_commit=False, group_id=None, auto_offset_reset="earliest"
    )
    await consumer.start()
    records: list[Record] = []
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    try:
        while loop.time() < deadline:
            batch = await consumer.getmany(timeout_ms=200)
            for tp_records in batch.values():
                records.extend(
                    Record(r.topic, r.partition, r.offset, r.key, r.value, dict(r.headers), r.timestamp)
                    for r in tp_records
                )
            partitions = consumer.assignment()
            if len(records) >= expect and partitions:
                end = await consumer.end_offsets(list(partitions))
                positions = {tp: await consumer.position(tp) for tp in partitions}
                if all(positions[tp] >= end[tp] for tp in partitions):
                    break
    finally:
        await consumer.stop()
    return records


def headers_of(record: Record) -> dict[str, str]:
    return {key: value.decode() for key, value in record.headers.items()}


def envelope(event_id: str, *, provider: str = "hmac", type: str = "order.created", payload: Any = None) -> bytes:
    return Envelope(
        id=event_id,
        source=provider,
        provider=provider,
        type=type,
        received_at=datetime.now(UTC),
        payload={"id": event_id, "type": type} if payload is None else payload,
    ).to_bytes()


async def produce(bootstrap: str, topic: str, records: Sequence[tuple[str, bytes]], provider: str = "hmac") -> None:
    """`(key, value)` records with the receiver's headers, each acknowledged by the broker before the next."""
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", enable_idempotence=True)
    await producer.start()
    try:
        for key, value in records:
            headers = RecordFormat(provider, provider).headers(id=key, type="order.created", time=datetime.now(UTC))
            await producer.send_and_wait(topic, value=value, key=key.encode(), headers=headers)
    finally:
        await producer.stop()


async def produce_keyed(bootstrap: str, topic: str, records: list[tuple[str, str]]) -> None:
    """`(key, event id)` records, the key chosen apart from the id (a customer's events, in order), sent at once."""
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", enable_idempotence=True)
    await producer.start()
    try:
        for key, event_id in records:
            await producer.send(topic, value=envelope(event_id), key=key.encode())
        await producer.flush()
    finally:
        await producer.stop()


@dataclass
class _Fetched:
    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    headers: list[tuple[str, bytes]] = field(default_factory=list)


async def dead_letter(bootstrap: str, topics: GroupTopics, ids: list[str]) -> None:
    """Put events in the group's DLQ as a worker does, after a fifth failed attempt."""
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all")
    await producer.start()
    try:
        for offset, event_id in enumerate(ids):
            record = _Fetched(
                topics.topic, 0, offset, event_id.encode(), envelope(event_id, provider=topics.provider),
                RecordFormat(topics.provider, topics.provider).headers(
                    id=event_id, type="order.created", time=datetime.now(UTC)
                ),
            )  # fmt: skip
            error = RuntimeError("model overloaded")
            out = failure_record(record, topics, Outcome.DEAD_LETTERED, error, 5, now_ms=now_ms(), delay_ms=0)
            await producer.send_and_wait(out.topic, value=out.value, key=out.key, headers=list(out.headers))
    finally:
        await producer.stop()


async def committed_lag(bootstrap: str, group: str, topics: Sequence[str], *, partitions: int = PARTITIONS) -> int:
    """Records of `topics` after the group's committed offsets: what a new member would read again.

    `partitions` is the topics' partition count: by default that of the in-process workers' topics.
    """
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=group, enable_auto_commit=False)
    await consumer.start()
    try:
        parts = [TopicPartition(topic, p) for topic in topics for p in range(partitions)]
        ends = await consumer.end_offsets(parts)
        left = 0
        for part in parts:
            left += ends[part] - (await consumer.committed(part) or 0)
        return left
    finally:
        await consumer.stop()


@contextlib.asynccontextmanager
async def serving(app: Receiver) -> AsyncIterator[str]:
    """Run the app under a real uvicorn server on loopback; yields its base URL."""
    port = free_port()
    # The protocol `python -m receiver` serves with (receiver/protocol.py).
    config = uvicorn.Config(
        app, host="127.0.0.1", port=port, http=HttpProtocol, lifespan="on", log_config=None, access_log=False
    )
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 30
    while not server.started:
        if task.done():
            task.result()
            raise AssertionError("uvicorn exited while starting")
        if loop.time() > deadline:
            raise AssertionError("uvicorn did not start within 30s")
        await asyncio.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await task


class ReceiverFactory(Protocol):
    """The `receiver` fixture."""

    def __call__(
        self, *sources: Source, tracing: Tracing | None = None, **settings: Any
    ) -> Awaitable[httpx.AsyncClient]: ...
