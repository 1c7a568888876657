"""A handler module as a team would write one (`CONSUMER_HANDLERS=tests.integration.two_handlers`): two handlers
on one provider, one failing twice, both counting their runs in Redis through the lifespan's client (the
`counter` of `counting_handlers`: `COUNT_REDIS_URL`, `COUNT_PREFIX`)."""

from __future__ import annotations

import os
from typing import Any

import redis.asyncio

from consumers import Context, Event, Registry
from tests.integration.counting_handlers import counter

registry = Registry(lifespan=counter)


@registry.handler("*")
async def steady(event: Event[Any], context: Context[redis.asyncio.Redis]) -> None:
    await context.state.incr(f"{os.environ['COUNT_PREFIX']}:steady:{event.id}")


@registry.handler("*")
async def flaky(event: Event[Any], context: Context[redis.asyncio.Redis]) -> None:
    await context.state.incr(f"{os.environ['COUNT_PREFIX']}:flaky:{event.id}")
    if context.attempt <= 2:
        raise ConnectionError("agent API: 503")
