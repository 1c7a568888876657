"""The byte budget of unverified requests: what bodies not yet verified may hold, together, in one process.

A body is read whole before its signature can be checked, so without a bound a few thousand slow senders
that need no secret would hold gigabytes. Each request takes its share (the declared `content-length` up
front, else each chunk as it arrives) and gives it back once the signature verified, or whenever it ends:
refused, disconnected, cancelled. A request that doesn't fit is refused with `Overloaded` (503 +
`Retry-After`: providers retry). One event loop per process touches it, so it needs no lock.
"""

from __future__ import annotations

from prometheus_client import Gauge

from receiver.errors import Overloaded


class PendingBytes:
    """The bytes held by unverified requests, against `limit`, mirrored in `gauge` (webhooks_pending_bytes)."""

    def __init__(self, limit: int, gauge: Gauge) -> None:
        self.limit = limit
        self.held = 0
        self.gauge = gauge

    def hold(self) -> Hold:
        return Hold(self)


class Hold:
    """One request's share of the budget; `release` is safe to call any number of times."""

    __slots__ = ("_budget", "size")

    def __init__(self, budget: PendingBytes) -> None:
        self._budget = budget
        self.size = 0

    def take(self, count: int) -> None:
        """Hold `count` more bytes, or raise `Overloaded` (holding nothing more) where they don't fit."""
        budget = self._budget
        if not count:
            return
        if budget.held + count > budget.limit:
            raise Overloaded(f"{budget.held} bytes of unverified bodies held, limit {budget.limit}")
        budget.held += count
        budget.gauge.inc(count)
        self.size += count

    def release(self) -> None:
        if self.size:
            self._budget.held -= self.size
            self._budget.gauge.dec(self.size)
            self.size = 0
