"""`Deadlines`: one timer bounds many reads; only its own cancellations count as overdue."""

from __future__ import annotations

import asyncio

import pytest

from receiver.deadlines import Deadlines


async def _read(deadlines: Deadlines, wait: asyncio.Event) -> str:
    task = asyncio.current_task()
    assert task is not None
    deadlines.start(task)
    try:
        await wait.wait()
        return "read"
    except asyncio.CancelledError:
        if deadlines.overdue(task):
            return "overdue"
        raise
    finally:
        deadlines.finish(task)


async def test_reads_past_their_deadline_are_overdue_and_the_others_are_not() -> None:
    deadlines = Deadlines(0.05)
    stalled, arriving = asyncio.Event(), asyncio.Event()
    first = asyncio.create_task(_read(deadlines, stalled))
    await asyncio.sleep(0.03)
    second = asyncio.create_task(_read(deadlines, stalled))
    finished = asyncio.create_task(_read(deadlines, arriving))
    await asyncio.sleep(0)
    arriving.set()
    assert await finished == "read"
    assert await first == "overdue"
    assert not second.done()  # its own deadline, 30 ms later, is not up yet
    assert await second == "overdue"
    assert (first.cancelling(), second.cancelling()) == (0, 0)


async def test_a_cancel_from_elsewhere_is_not_taken_for_the_deadline() -> None:
    deadlines = Deadlines(0.02)
    task = asyncio.create_task(_read(deadlines, asyncio.Event()))
    await asyncio.sleep(0)
    task.cancel()  # a shutdown, say
    with pytest.raises(asyncio.CancelledError):
        await task
    # Cancelled by its deadline and, before it ran again, from elsewhere: the other cancel still stands.
    both = asyncio.create_task(_read(deadlines, asyncio.Event()))
    while not both.cancelling():  # noqa: ASYNC110 (one loop round at a time, until the deadline cancelled it)
        await asyncio.sleep(0)
    both.cancel()
    with pytest.raises(asyncio.CancelledError):
        await both
