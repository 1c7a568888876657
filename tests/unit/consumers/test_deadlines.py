"""One timer per timeout length bounds every handler run of that length, and tells its own cancellations from
anyone else's, as `asyncio.timeout` does."""

from __future__ import annotations

import asyncio
import time

from consumers.deadlines import Deadlines


async def run(deadlines: Deadlines, timeout_s: float, sleep_s: float) -> tuple[bool, bool, float]:
    # (timed out, cancelled from elsewhere, seconds it ran), as the runner's `_call` reads them.
    task = asyncio.current_task()
    assert task is not None
    started = time.monotonic()
    deadlines.start(task, timeout_s)
    cancelled = False
    try:
        await asyncio.sleep(sleep_s)
    except asyncio.CancelledError:
        cancelled = True
    timed_out = deadlines.finish(task, timeout_s)
    return timed_out, cancelled and not timed_out, time.monotonic() - started


async def test_runs_of_two_lengths_end_each_at_its_own_deadline() -> None:
    deadlines = Deadlines()
    results = await asyncio.gather(
        run(deadlines, 0.05, 1), run(deadlines, 0.2, 1), run(deadlines, 0.05, 0.01), run(deadlines, 0.1, 1)
    )
    assert [(timed_out, other) for timed_out, other, _ in results] == [
        (True, False),
        (True, False),
        (False, False),
        (True, False),
    ]
    for (_, _, took), ends in zip(results, [0.05, 0.2, 0.01, 0.1], strict=True):
        assert ends - 0.005 <= took < ends + 0.2  # a loaded machine runs timers late, never early


async def test_a_task_goes_on_after_its_deadline_was_taken_back() -> None:
    deadlines = Deadlines()
    task = asyncio.current_task()
    assert task is not None
    assert (await run(deadlines, 0.01, 1))[0]
    assert task.cancelling() == 0
    await asyncio.sleep(0.02)  # no cancellation left pending: this sleep is not cut short
    assert not (await run(deadlines, 1, 0.01))[0]


async def test_a_cancellation_from_elsewhere_is_no_timeout() -> None:
    deadlines = Deadlines()
    started = asyncio.Event()

    async def cancelled_elsewhere() -> bool:
        task = asyncio.current_task()
        assert task is not None
        deadlines.start(task, 0.05)
        started.set()
        try:
            await asyncio.sleep(1)
        except asyncio.CancelledError:
            await asyncio.sleep(0.1)  # past the deadline too: its cancellation comes on top
            raise
        finally:
            assert not deadlines.finish(task, 0.05)
            assert task.cancelling() == 1
        return False

    task = asyncio.create_task(cancelled_elsewhere())
    await started.wait()
    task.cancel()
    await asyncio.wait([task])
    assert task.cancelled()
