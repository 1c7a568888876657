"""How many runs of one handler may go at once and how fast: a semaphore and a token bucket per handler and worker.

A run over a handler's limit waits for it before it takes one of the group's `CONSUMER_CONCURRENCY` slots,
so it holds up neither other handlers nor other keys, and its timeout starts only once it runs.
"""

from __future__ import annotations

import asyncio

from consumers.registry import Handler
from primitives.tokenbucket import TokenBucket


class HandlerLimits:
    """The limits of every handler of one worker, and the group's slots they share.

    Args:
        slots: most handler runs at once over all handlers (`CONSUMER_CONCURRENCY`).
    """

    def __init__(self, slots: int) -> None:
        self._slots = asyncio.Semaphore(slots)
        self._concurrency: dict[str, asyncio.Semaphore] = {}
        self._rates: dict[str, TokenBucket] = {}

    async def enter(self, handler: Handler) -> None:
        """Wait for a run of `handler`: its own concurrency first, then its rate, then one of the group's slots."""
        own = self._own(handler)
        if own is not None:
            await own.acquire()
        try:
            if handler.rate is not None:
                bucket = self._rates.get(handler.name)
                if bucket is None:
                    bucket = self._rates[handler.name] = TokenBucket(handler.rate.per_s, handler.rate.burst)
                await bucket.take()
            await self._slots.acquire()
        except BaseException:
            if own is not None:
                own.release()
            raise

    def leave(self, handler: Handler) -> None:
        """The run `enter` let in is over."""
        self._slots.release()
        own = self._own(handler)
        if own is not None:
            own.release()

    def _own(self, handler: Handler) -> asyncio.Semaphore | None:
        if handler.concurrency is None:
            return None
        own = self._concurrency.get(handler.name)
        if own is None:
            own = self._concurrency[handler.name] = asyncio.Semaphore(handler.concurrency)
        return own
