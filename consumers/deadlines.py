"""The handler runs' timeouts: one loop timer per timeout length, not one per run.

`asyncio.timeout` arms and cancels a timer on every run, ~5% of a worker's CPU on small events
(docs/performance.md). Runs of one timeout length fall due in the order they start, so per length one timer, armed
for the oldest run still going, cancels the tasks whose time is up; `finish` takes that cancellation back and tells
it from any other (a revocation's, a lost claim's), as `asyncio.timeout` does.

    deadline = deadlines.start(task, timeout_s)
    try: await handler(...)
    except asyncio.CancelledError: ...
    timed_out = deadlines.finish(task, timeout_s)
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

Task = asyncio.Task[Any]


class Deadlines:
    """The deadlines of the handler runs going on, one task running at most one handler at a time."""

    def __init__(self) -> None:
        # Per timeout length: the running tasks and when each is due (loop time), in start order.
        self._due: dict[float, dict[Task, float]] = {}
        self._timers: dict[float, asyncio.TimerHandle] = {}
        self._cancelled: set[Task] = set()
        self._loop: asyncio.AbstractEventLoop | None = None

    def start(self, task: Task, timeout_s: float) -> float:
        """Cancel `task` `timeout_s` from now unless `finish` comes first; the deadline on the `time.monotonic()`
        clock (`Context.deadline`)."""
        loop = task.get_loop()
        due = self._due.get(timeout_s)
        if due is None:
            due = self._due[timeout_s] = {}
        due[task] = loop.time() + timeout_s
        if timeout_s not in self._timers or self._loop is not loop:  # one loop per worker, but tests make more
            self._loop = loop
            self._timers[timeout_s] = loop.call_at(due[task], self._expire, timeout_s, loop)
        return time.monotonic() + timeout_s

    def finish(self, task: Task, timeout_s: float) -> bool:
        """The run is over: whether its deadline cancelled the task and no other cancellation is pending (then
        its `CancelledError` means a timeout; the deadline's cancellation is taken back either way)."""
        self._due[timeout_s].pop(task, None)
        if task not in self._cancelled:
            return False
        self._cancelled.discard(task)
        return task.uncancel() == 0

    def _expire(self, timeout_s: float, loop: asyncio.AbstractEventLoop) -> None:
        self._timers.pop(timeout_s, None)
        due = self._due[timeout_s]
        now = loop.time()
        while due:
            task, at = next(iter(due.items()))
            if at > now:
                self._timers[timeout_s] = loop.call_at(at, self._expire, timeout_s, loop)
                return
            del due[task]
            self._cancelled.add(task)
            task.cancel()
