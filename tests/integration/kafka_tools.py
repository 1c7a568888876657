"""Test-side access to the real broker: read what a topic holds, and run a receiver on a free port."""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import AsyncIterator
from dataclasses import dataclass

import uvicorn
from aiokafka import AIOKafkaConsumer

from receiver.app import Receiver


@dataclass(frozen=True)
class Record:
    topic: str
    partition: int
    offset: int
    key: bytes
    value: bytes
    headers: dict[str, bytes]


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
                    Record(r.topic, r.partition, r.offset, r.key, r.value, dict(r.headers)) for r in tp_records
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


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextlib.asynccontextmanager
async def serving(app: Receiver) -> AsyncIterator[str]:
    """Run the app under a real uvicorn server on loopback; yields its base URL."""
    port = free_port()
    config = uvicorn.Config(app, host="127.0.0.1", port=port, lifespan="on", log_config=None, access_log=False)
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
