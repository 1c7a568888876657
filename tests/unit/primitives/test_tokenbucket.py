"""The token bucket of both processes, on a clock the test moves: the receiver's refusal (`try_take`) and the
consumers' wait in order (`reserve`, `take`)."""

from __future__ import annotations

import asyncio

import pytest

from primitives.tokenbucket import TokenBucket
from tests.fakes import Clock


def test_a_bucket_allows_its_rate_and_a_burst_of_one_second() -> None:
    clock = Clock(100.0)
    bucket = TokenBucket(2.0, clock=clock)
    assert [bucket.try_take() for _ in range(3)] == [0.0, 0.0, 0.5]
    clock.now += 0.5
    assert bucket.try_take() == 0.0
    assert bucket.try_take() == pytest.approx(0.5)
    clock.now += 10
    assert [bucket.try_take() for _ in range(3)] == [0.0, 0.0, 0.5]  # idle time does not pile up past the burst


def test_a_bucket_lets_a_burst_through_then_one_token_per_interval_in_order() -> None:
    clock = Clock()
    bucket = TokenBucket(per_s=2, burst=3, clock=clock)

    assert [bucket.reserve() for _ in range(5)] == [0.0, 0.0, 0.0, 0.5, 1.0]
    clock.now += 1.0  # two tokens came back, both already promised to the two waiters
    assert bucket.reserve() == 0.5
    clock.now += 10
    assert bucket.reserve() == 0.0  # refilled up to the burst, never beyond
    assert [bucket.reserve() for _ in range(3)] == [0.0, 0.0, 0.5]


async def test_a_waiter_cancelled_gives_its_token_back() -> None:
    clock = Clock()
    bucket = TokenBucket(per_s=1, burst=1, clock=clock)
    await bucket.take()
    waiting = asyncio.create_task(bucket.take())
    await asyncio.sleep(0)
    waiting.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiting
    assert bucket.reserve() == 1.0  # the next one waits one interval, not two
