"""How many runs of one handler may go at once and how fast: a semaphore and a token bucket per handler and worker.

A run over a handler's limit waits for it before it takes one of the group's `CONSUMER_CONCURRENCY` slots,
so it holds up neither other handlers nor other keys, and its timeout starts only once it runs.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

from consumers.registry import Handler


class TokenBucket:
    """`burst` tokens, refilled at `per_s` a second; `take` waits for one, first come first served.

    Each caller reserves the next token at once (the count may go below zero) and sleeps until it is due, so
    waiters are served in order without a lock; a caller cancelled while it waits gives its token back.
    """

    def __init__(self, per_s: float, burst: int, *, clock: Callable[[], float] = time.monotonic) -> None:
        self._per_s = per_s
        self._burst = burst
        self._clock = clock
        self._tokens = float(burst)
        self._stamp = clock()

    def reserve(self) -> float:
        """Take the next token; the seconds until it is due (0 when it is there now)."""
        now = self._clock()
        self._tokens = min(self._burst, self._tokens + (now - self._stamp) * self._per_s) - 1
        self._stamp = now
        return max(0.0, -self._tokens / self._per_s)

    def give_back(self) -> None:
        """Return a reserved token that was not used."""
        self._tokens += 1

    async def take(self) -> None:
        """Wait for a token."""
        wait_s = self.reserve()
        if wait_s > 0:
            try:
                await asyncio.sleep(wait_s)
            except asyncio.CancelledError:
                self.give_back()
                raise


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
