"""What the worker knows about each partition it owns: offsets in flight, the commit point, running jobs.

A record's offset is tracked from the fetch until the record is done, retried or dead-lettered; the offset
to commit is the first one not done yet (or one past the last fetched), so a commit never passes over a
record that is still being handled, whatever order the records finish in.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque


class PartitionState:
    """One owned partition.

    Attributes:
        revoked: the partition was taken away (or the worker is stopping): its queued jobs must not start.
        running: the tasks handling its records now; cancelled when it is revoked past the grace.
        paused: whether this worker asked Kafka to stop fetching it.
        not_before_ms: a retry partition waits until this epoch time (ms) for its next record, else None.
        commit_moved_at: when (monotonic seconds) its commit last moved, or nothing waited behind it.
    """

    def __init__(self) -> None:
        # Offsets fetched and not dealt with yet, with whether each is done; and the same offsets in order (a dict
        # emptied from the front is slow to iterate: `next(iter(...))` steps over every entry deleted before).
        self._offsets: dict[int, bool] = {}
        self._order: deque[int] = deque()
        self._next = -1
        self.first_fetched = -1
        self.committed = -1
        self.revoked = False
        self.running: set[asyncio.Task[None]] = set()
        self.paused = False
        self.not_before_ms: int | None = None
        self.commit_moved_at = time.monotonic()

    def fetched(self, offset: int) -> None:
        """A record was fetched and handed on."""
        if self.first_fetched < 0:
            self.first_fetched = offset
        if offset not in self._offsets:
            self._order.append(offset)
        self._offsets[offset] = False
        self._next = max(self._next, offset + 1)

    def finished(self, offset: int) -> None:
        """A record is done, retried or dead-lettered: the commit may pass it."""
        offsets, order = self._offsets, self._order
        if offset in offsets:
            offsets[offset] = True
        while order and offsets[order[0]]:
            del offsets[order.popleft()]

    @property
    def in_flight(self) -> int:
        """Records fetched and not dealt with yet."""
        return len(self._offsets)

    @property
    def commit_point(self) -> int | None:
        """The offset to commit (the next one the group reads), or None before the first record."""
        if self._order:
            return self._order[0]
        return self._next if self._next >= 0 else None

    def to_commit(self) -> int | None:
        """The commit point when it moved past the last commit, else None."""
        point = self.commit_point
        return point if point is not None and point > self.committed else None
