"""Riding out an outage of Redis or Kafka: the same call again, with backoff, for as long as it takes.

Nothing is skipped and nothing is assumed done meanwhile; the partitions pause as their records pile up.
One line says the outage began (and again when its cause changes), one that it ended: not one per try.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

from consumers.errors import BrokerUnavailable, StoreUnavailable

log = logging.getLogger(__name__)

T = TypeVar("T")

# While an outage lasts, its line is repeated this often, in seconds: a log reader sees it is still on.
REMIND_S = 60.0


async def until_available(call: Callable[[], Awaitable[T]], *, backoff_s: tuple[float, float]) -> T:
    """`call()`'s result, retried while Redis or Kafka is unavailable; `backoff_s` is (first delay, cap),
    doubling in between."""
    delay_s, cap_s = backoff_s
    began = said_at = 0.0
    said = ""
    while True:
        try:
            result = await call()
        except (StoreUnavailable, BrokerUnavailable) as exc:
            now = time.monotonic()
            began = began or now
            if str(exc) != said or now - said_at >= REMIND_S:
                log.warning("%s; trying again with backoff until it does (for %.0fs so far)", exc, now - began)
                said, said_at = str(exc), now
            await asyncio.sleep(delay_s)
            delay_s = min(delay_s * 2, cap_s)
            continue
        if began:
            log.warning("%s: the call went through after %.1fs", said, time.monotonic() - began)
        return result
