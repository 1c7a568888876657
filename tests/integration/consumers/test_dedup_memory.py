"""Remembering handled events is compact and exact: at most 40 bytes of Redis memory per (event, group), and
never a distinct event taken for a duplicate. A redis-server of its own: `used_memory` is the whole server's.
"""

from __future__ import annotations

import asyncio
import shutil
import socket
from collections.abc import AsyncIterator

import pytest
import redis.asyncio

from bench.dedup import measure
from consumers.idempotency import Claim, IdempotencyStore, claim_key
from tests.repository import stack


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
async def own_redis(local_stack: tuple[str, str]) -> AsyncIterator[redis.asyncio.Redis]:
    port = _free_port()
    server = stack.RedisServer(port=port, name=f"redis-dedup-memory-{port}", persist=False)
    server.start()
    client = redis.asyncio.Redis(host="127.0.0.1", port=port)
    try:
        yield client
    finally:
        await client.aclose()
        await asyncio.to_thread(server.stop)
        shutil.rmtree(server.home, ignore_errors=True)


async def test_100k_events_cost_at_most_40_bytes_each_and_no_distinct_event_is_a_duplicate(
    own_redis: redis.asyncio.Redis,
) -> None:
    figures = await measure(own_redis, events=100_000, batch=500)

    assert figures.bytes_per_event <= 40, figures
    # Every redelivery was found, and nothing else: no distinct event passed for one handled already.
    assert figures.duplicates_found == figures.redeliveries == 10_000
    # Every hash kept the compact encoding.
    assert set(figures.encodings) == {"listpack"}, figures.encodings
    assert figures.largest_hash < 512
    # One script call per batch and operation.
    assert figures.script_calls_per_event <= 2 / 500 + 1e-9

    # Every one of the 100,000 is still found, and 10,000 ids never seen are all new.
    store = IdempotencyStore(own_redis)
    keys = [key.decode() async for key in own_redis.scan_iter(match="webhooks:idem:*")]
    assert keys == []  # every claim was completed, and its key deleted
    fresh = [claim_key("bench", "github", f"new-{i}") for i in range(10_000)]
    assert await store.claim(fresh, "t", 60_000) == [Claim.CLAIMED] * 10_000
