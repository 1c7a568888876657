"""`python -m consumers` as a real process: SIGKILL in the middle of a batch, SIGTERM with handlers in flight.

The handlers (`counting_handlers`) count their runs and side effects in Redis, so what survives the process
is exactly what a user would see: how many times each event's side effect happened.
"""

from __future__ import annotations

import asyncio
import signal
import time
from pathlib import Path

import redis.asyncio

from consumers.idempotency import claim_key
from tests.integration.kafka_tools import committed_lag
from tests.integration.worker_process import (
    PARTITIONS,
    Group,
    killed_mid_batch_and_recovered,
    prepare,
    terminate,
    wait_while_running,
    worker_process,
)


async def test_a_worker_killed_mid_batch_loses_nothing_and_repeats_nothing(
    kafka_bootstrap: str, redis_url: str, redis_client: redis.asyncio.Redis, unique: str, tmp_path: Path
) -> None:
    group = Group(kafka_bootstrap, redis_url, unique)
    run = await killed_mid_batch_and_recovered(group, redis_client, redis_client, tmp_path)
    print(
        f"\nSIGKILL: 60 events, {len(run.hanging)} in flight at the kill, {run.left_uncommitted} uncommitted; "
        f"recovered in {run.recovered_s:.1f}s with {run.left_uncommitted - len(run.hanging)} duplicates dropped, "
        "0 repeats"
    )


async def test_sigterm_drains_in_flight_handlers_commits_and_leaves(
    kafka_bootstrap: str, redis_url: str, redis_client: redis.asyncio.Redis, unique: str, tmp_path: Path
) -> None:
    group = Group(kafka_bootstrap, redis_url, unique)
    ids = await prepare(group, 24)
    env = group.env(COUNT_SLEEP_S="0.6", CONSUMER_CONCURRENCY="4")

    with worker_process(env, tmp_path / "first.log") as first:

        async def some_in_flight() -> bool:
            started = await group.counts(redis_client, "started", ids)
            effects = await group.counts(redis_client, "effects", ids)
            return sum(started.values()) - sum(effects.values()) >= 4

        deadline = time.monotonic() + 30
        while not await some_in_flight():
            assert first.poll() is None, (tmp_path / "first.log").read_text()
            assert time.monotonic() < deadline, "no handlers in flight"
            await asyncio.sleep(0.05)
        in_flight = {
            event_id
            for event_id, count in (await group.counts(redis_client, "started", ids)).items()
            if count and not await group.count(redis_client, "effects", event_id)
        }
        signalled = time.monotonic()
        first.send_signal(signal.SIGTERM)
        assert first.wait(timeout=20) == 0
        stopped_s = time.monotonic() - signalled

    handled = await group.done(redis_client, ids)
    # Every handler that was running finished (none was cut off) and was marked done; nothing else was started.
    assert in_flight <= handled
    assert await group.counts(redis_client, "effects", sorted(handled)) == dict.fromkeys(handled, 1)
    assert sum((await group.counts(redis_client, "started", ids)).values()) == len(handled)
    # Claims of events that had not started were released, not left to expire.
    assert not await redis_client.exists(*[claim_key(group.group, group.provider, i) for i in ids if i not in handled])
    # What is done is committed: the next member reads exactly the rest.
    assert await committed_lag(kafka_bootstrap, group.group, [group.topic], partitions=PARTITIONS) == len(ids) - len(
        handled
    )
    assert stopped_s < 10

    with worker_process(group.env(COUNT_SLEEP_S="0"), tmp_path / "second.log") as second:

        async def rest_handled() -> bool:
            return min((await group.counts(redis_client, "effects", ids)).values()) >= 1

        await wait_while_running(second, tmp_path / "second.log", rest_handled, timeout_s=40)
        terminate(second)

    assert await group.counts(redis_client, "effects", ids) == dict.fromkeys(ids, 1)
    print(
        f"\nSIGTERM: {len(in_flight)} in flight drained in {stopped_s:.1f}s, {len(handled)} of 24 handled and "
        f"committed; the next member handled the other {len(ids) - len(handled)}, 0 repeats"
    )
