"""Per-source rates: a token bucket per source and receiver process.

A source's rate is shared out over the `RECEIVER_WORKERS` processes (each takes rate / N), so their sum never
goes over it, whichever process the kernel hands a connection to. The cost of that bound: with connections
spread unevenly, a source may be refused a little below its rate.
"""

from __future__ import annotations

import time
from collections.abc import Callable


class TokenBucket:
    """At most `rate_per_s` a second on average and one second's worth (at least one) at once.

    Args:
        rate_per_s: tokens added a second.
        clock: monotonic seconds (injected so tests can move time).
    """

    def __init__(self, rate_per_s: float, *, clock: Callable[[], float] = time.monotonic) -> None:
        self.rate_per_s = rate_per_s
        self._burst = max(1.0, rate_per_s)
        self._tokens = self._burst
        self._clock = clock
        self._at = clock()

    def take(self) -> float:
        """Take a token: 0.0 when there was one, else the seconds until there will be (nothing taken)."""
        now = self._clock()
        self._tokens = min(self._burst, self._tokens + (now - self._at) * self.rate_per_s)
        self._at = now
        if self._tokens >= 1.0:
            self._tokens -= 1.0
            return 0.0
        return (1.0 - self._tokens) / self.rate_per_s
