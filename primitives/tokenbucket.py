"""A token bucket: the receiver's rate per source (refuses what is over it) and the consumers' rate per handler
(waits for it) both take tokens from one."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable


class TokenBucket:
    """At most `per_s` tokens a second on average and `burst` at once.

    `try_take` takes a token only when there is one, for a caller that refuses what it can't take now.
    `reserve` takes the next token at once, due now or later (the count may go below zero), and `take` waits
    until it is due: waiters are served in order without a lock, and a caller cancelled while it waits gives
    its token back.

    Args:
        per_s: tokens added a second.
        burst: the most tokens held; by default one second's worth (at least one).
        clock: monotonic seconds (injected so tests can move time).
    """

    def __init__(
        self, per_s: float, burst: float | None = None, *, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.per_s = per_s
        self._burst = burst if burst is not None else max(1.0, per_s)
        self._tokens = self._burst
        self._clock = clock
        self._stamp = clock()

    def try_take(self) -> float:
        """Take a token: 0.0 when there was one, else the seconds until there will be (nothing taken)."""
        self._refill()
        if self._tokens >= 1.0:
            self._tokens -= 1.0
            return 0.0
        return (1.0 - self._tokens) / self.per_s

    def reserve(self) -> float:
        """Take the next token; the seconds until it is due (0 when it is there now)."""
        self._refill()
        self._tokens -= 1.0
        return max(0.0, -self._tokens / self.per_s)

    def give_back(self) -> None:
        """Return a reserved token that was not used."""
        self._tokens += 1.0

    async def take(self) -> None:
        """Wait for a token."""
        wait_s = self.reserve()
        if wait_s > 0:
            try:
                await asyncio.sleep(wait_s)
            except asyncio.CancelledError:
                self.give_back()
                raise

    def _refill(self) -> None:
        now = self._clock()
        self._tokens = min(self._burst, self._tokens + (now - self._stamp) * self.per_s)
        self._stamp = now
