"""One timer for every body being read: each request's body read is bounded without a timer of its own.

`asyncio.timeout` arms and cancels a loop timer on every use, about 40% of the body read's cost on the hot
path (docs/performance.md). Every read here has the same limit, so reads fall due in
the order they start: one timer, armed for the oldest read still going, cancels the tasks whose deadline
passed, and `overdue` tells such a cancellation from any other (a shutdown's), as `asyncio.timeout` does.

    task = asyncio.current_task(); deadlines.start(task)
    try: ... await receive() ...
    except asyncio.CancelledError:
        if deadlines.overdue(task): raise BodyTimeout(...)
        raise
    finally: deadlines.finish(task)
"""

from __future__ import annotations

import asyncio
from typing import Any

Task = asyncio.Task[Any]


class Deadlines:
    """The deadlines, `timeout_s` after each `start`, of the tasks between `start` and `finish`."""

    def __init__(self, timeout_s: float) -> None:
        self.timeout_s = timeout_s
        # In start order, which is deadline order: one timeout for all.
        self._due: dict[Task, float] = {}
        self._cancelled: set[Task] = set()
        self._timer: asyncio.TimerHandle | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    def start(self, task: Task) -> None:
        loop = task.get_loop()
        due = loop.time() + self.timeout_s
        self._due[task] = due
        if self._timer is None or self._loop is not loop:  # a loop of its own per app, but tests reuse apps
            self._loop = loop
            self._timer = loop.call_at(due, self._expire)

    def finish(self, task: Task) -> None:
        self._due.pop(task, None)
        self._cancelled.discard(task)

    def overdue(self, task: Task) -> bool:
        """Whether the task's `CancelledError` is its deadline's doing alone (not also another cancel's)."""
        if task not in self._cancelled:
            return False
        self._cancelled.discard(task)
        return task.uncancel() == 0

    def _expire(self) -> None:
        loop = self._loop
        assert loop is not None
        self._timer = None
        now = loop.time()
        while self._due:
            task, due = next(iter(self._due.items()))
            if due > now:
                self._timer = loop.call_at(due, self._expire)
                return
            del self._due[task]
            self._cancelled.add(task)
            task.cancel()
