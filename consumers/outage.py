"""Riding out an outage of Redis or Kafka: the same call again, with backoff, for as long as it takes.

Nothing is skipped and nothing is assumed done meanwhile; the partitions pause as their records pile up.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import TypeVar

from consumers.errors import BrokerUnavailable, StoreUnavailable

log = logging.getLogger(__name__)

T = TypeVar("T")


async def until_available(call: Callable[[], Awaitable[T]], *, backoff_s: tuple[float, float]) -> T:
    """`call()`'s result, retried while Redis or Kafka is unavailable; `backoff_s` is (first delay, cap),
    doubling in between."""
    delay_s, cap_s = backoff_s
    while True:
        try:
            return await call()
        except (StoreUnavailable, BrokerUnavailable) as exc:
            log.warning("%s; trying again in %.1fs", exc, delay_s)
            await asyncio.sleep(delay_s)
            delay_s = min(delay_s * 2, cap_s)
