"""Lanes: jobs of the same lane run one after the other, in the order they came; other lanes run beside them.

The worker gives each record a lane by its Kafka key (the event id, unless a producer chose another key),
so the records of one key are handled in offset order while different keys run concurrently.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Awaitable, Callable, Hashable

log = logging.getLogger(__name__)

Job = Callable[[], Awaitable[None]]


class Lanes:
    """Ordered queues of jobs by lane, each drained by a task of its own while it has jobs."""

    def __init__(self) -> None:
        self._queues: dict[Hashable, deque[Job]] = {}
        self._tasks: set[asyncio.Task[None]] = set()

    def submit(self, lane: Hashable, job: Job) -> None:
        """Run `job` after every job submitted before it to the same lane."""
        queue = self._queues.get(lane)
        if queue is not None:
            queue.append(job)
            return
        self._queues[lane] = deque([job])
        task = asyncio.create_task(self._drain(lane))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def __len__(self) -> int:
        """Jobs queued or running."""
        return sum(len(queue) for queue in self._queues.values())

    async def close(self) -> None:
        """Cancel every lane; queued jobs never run."""
        for task in list(self._tasks):
            task.cancel()
        if self._tasks:
            await asyncio.wait(self._tasks)
        self._queues.clear()

    async def _drain(self, lane: Hashable) -> None:
        queue = self._queues[lane]
        drainer = asyncio.current_task()
        assert drainer is not None
        try:
            while queue:
                job = queue[0]
                # A job of its own: cancelling one job (a revoked partition) leaves the lane running.
                task = asyncio.ensure_future(job())
                try:
                    await task  # cancelling the lane cancels the job too
                except asyncio.CancelledError:
                    if drainer.cancelling():
                        raise
                    # Only the job was cancelled: the lane goes on with the next one.
                except Exception:
                    log.exception("a job of lane %r failed", lane)
                queue.popleft()
        finally:
            del self._queues[lane]
