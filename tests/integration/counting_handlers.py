"""A handler module for worker subprocesses (`CONSUMER_HANDLERS=tests.integration.counting_handlers`).

Every run of the handler counts in Redis, so a test can tell after a crash how often each event ran:
`INCR <prefix>:started:<id>` when it starts, then (after `COUNT_SLEEP_S`) the side effect
`INCR <prefix>:effects:<id>`. An event whose id ends in a number divisible by `COUNT_HANG_EVERY` hangs
before its side effect (a slow agent call caught by a crash). Configured by environment variables:
`COUNT_REDIS_URL`, `COUNT_PREFIX`, `COUNT_SLEEP_S` (default 0), `COUNT_HANG_EVERY` (default 0: none). The
Redis client is the registry's lifespan's: one per worker, closed when it stops.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import redis.asyncio

from consumers import Context, Event, Registry


@asynccontextmanager
async def counter() -> AsyncIterator[redis.asyncio.Redis]:
    client = redis.asyncio.Redis.from_url(os.environ["COUNT_REDIS_URL"])
    try:
        yield client
    finally:
        await client.aclose()


registry = Registry(lifespan=counter)


def _hangs(event_id: str) -> bool:
    every = int(os.environ.get("COUNT_HANG_EVERY", "0"))
    digits = event_id.rsplit("_", 1)[-1]
    return every > 0 and digits.isdigit() and int(digits) % every == 0


@registry.handler("*", "*")
async def count(event: Event[Any], context: Context[redis.asyncio.Redis]) -> None:
    prefix = os.environ["COUNT_PREFIX"]
    client = context.state
    await client.incr(f"{prefix}:started:{context.idempotency_key}")
    if _hangs(event.id):
        await asyncio.sleep(3600)
    await asyncio.sleep(float(os.environ.get("COUNT_SLEEP_S", "0")))
    await client.incr(f"{prefix}:effects:{context.idempotency_key}")
