"""Lanes: jobs of the same lane run one after the other, in the order they came; other lanes run beside them.

The worker gives each record a lane by its Kafka key (the event id, unless a producer chose another key),
so the records of one key are handled in offset order while different keys run concurrently. A batch of
records handled together (each its own lane, none of them busy) `hold`s their lanes instead of queueing a job
in each: a record of one of those keys that comes meanwhile queues behind the hold, and runs on its `release`.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Awaitable, Callable, Hashable

log = logging.getLogger(__name__)

Job = Callable[[], Awaitable[None]]


async def _held() -> None:
    raise RuntimeError("a held lane's place ran as a job")  # never: `release` takes it off first


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
        self._start(lane)

    def _start(self, lane: Hashable) -> None:
        task = asyncio.create_task(self._drain(lane))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def busy(self, lane: Hashable) -> bool:
        """Whether a job of the lane is queued, running or held."""
        return lane in self._queues

    def hold(self, lane: Hashable) -> None:
        """Take a free lane for a job that runs elsewhere (a batch): jobs submitted to it wait for `release`."""
        if lane in self._queues:
            raise RuntimeError(f"lane {lane!r} is busy")
        self._queues[lane] = deque([_held])

    def release(self, lane: Hashable) -> None:
        """The held job of the lane is over: the jobs queued behind it run."""
        queue = self._queues.get(lane)
        if queue is None:
            return  # closed meanwhile
        queue.popleft()
        if not queue:
            del self._queues[lane]
            return
        self._start(lane)

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
