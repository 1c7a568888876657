"""The worker's parts without I/O: commit points, lanes, batched claims, the handler context and the CLI."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any

import pytest
import redis.asyncio

from consumers.__main__ import parser
from consumers.claims import ClaimBatcher, next_renewal
from consumers.errors import StoreUnavailable
from consumers.handlers import Context, bound_logger
from consumers.idempotency import Claim, IdempotencyStore
from consumers.kafka import Partition
from consumers.lanes import Lanes
from consumers.partitions import PartitionState
from consumers.registry import Registry
from consumers.replay import Selection
from consumers.settings import Settings
from consumers.worker import Worker


def test_the_commit_point_never_passes_an_unfinished_record() -> None:
    assert PartitionState().commit_point is None
    state = PartitionState()
    for offset in (10, 11, 12, 13):
        state.fetched(offset)
    assert state.commit_point == 10
    state.finished(12)
    state.finished(11)
    assert (state.commit_point, state.in_flight) == (10, 4)
    state.finished(10)
    assert (state.commit_point, state.in_flight) == (13, 1)
    state.finished(13)
    assert (state.commit_point, state.in_flight) == (14, 0)
    state.committed = 14
    assert state.to_commit() is None


async def test_lanes_run_one_key_in_order_and_keys_side_by_side() -> None:
    lanes = Lanes()
    log: list[str] = []
    gate = asyncio.Event()

    def job(name: str, wait: bool = False) -> Any:
        async def run() -> None:
            log.append(f"{name}+")
            if wait:
                await gate.wait()
            log.append(f"{name}-")

        return run

    lanes.submit("a", job("a1", wait=True))
    lanes.submit("a", job("a2"))
    lanes.submit("b", job("b1"))
    await asyncio.sleep(0.01)
    assert log == ["a1+", "b1+", "b1-"]
    assert len(lanes) == 2
    gate.set()
    await asyncio.sleep(0.01)
    assert log == ["a1+", "b1+", "b1-", "a1-", "a2+", "a2-"]
    assert len(lanes) == 0
    await lanes.close()


async def test_a_cancelled_job_leaves_its_lane_running() -> None:
    lanes = Lanes()
    ran: list[str] = []
    tasks: list[asyncio.Task[Any]] = []

    async def stuck() -> None:
        task = asyncio.current_task()
        assert task is not None
        tasks.append(task)
        await asyncio.sleep(60)

    async def after() -> None:
        ran.append("after")

    lanes.submit("k", stuck)
    lanes.submit("k", after)
    await asyncio.sleep(0.01)
    tasks[0].cancel()
    await asyncio.sleep(0.01)
    assert ran == ["after"]
    await lanes.close()


async def test_a_held_lane_runs_what_was_submitted_to_it_on_release() -> None:
    lanes = Lanes()
    ran: list[str] = []

    def job(name: str) -> Any:
        async def run() -> None:
            ran.append(name)

        return run

    lanes.hold("k")
    assert lanes.busy("k")
    assert not lanes.busy("other")
    lanes.submit("k", job("k2"))
    lanes.submit("other", job("o1"))
    await asyncio.sleep(0.01)
    assert ran == ["o1"]
    with pytest.raises(RuntimeError):
        lanes.hold("k")
    lanes.release("k")
    await asyncio.sleep(0.01)
    assert ran == ["o1", "k2"]
    assert not lanes.busy("k")
    lanes.hold("k")
    lanes.release("k")
    assert not lanes.busy("k")
    await lanes.close()


class FakeStore(IdempotencyStore):
    """Claims in a dict; counts calls; can be down for a number of calls."""

    def __init__(self, down: int = 0) -> None:
        self.values: dict[str, str] = {}
        self.calls: list[tuple[str, int]] = []
        self.down = down

    def _up(self, op: str, keys: Sequence[str]) -> None:
        if self.down:
            self.down -= 1
            raise StoreUnavailable("Redis is unavailable: ConnectionError")
        self.calls.append((op, len(keys)))

    async def claim(self, keys: Sequence[str], token: str, lease_ms: int, *, force: bool = False) -> list[Claim]:
        self._up("claim", keys)
        result = []
        for key in keys:
            value = self.values.get(key)
            if value is None or value == token:
                self.values[key] = token
                result.append(Claim.CLAIMED)
            else:
                result.append(Claim.DONE if value == "done" else Claim.HELD)
        return result

    async def complete(self, keys: Sequence[str], token: str) -> list[bool]:
        self._up("complete", keys)
        for key in keys:
            self.values[key] = "done"
        return [True] * len(keys)

    async def release(self, keys: Sequence[str], token: str) -> list[bool]:
        self._up("release", keys)
        for key in keys:
            self.values.pop(key, None)
        return [True] * len(keys)


async def test_claims_of_one_tick_are_one_call() -> None:
    store = FakeStore()
    claims = ClaimBatcher(store, lease_ms=1000)
    results = await asyncio.gather(*(claims.claim(f"k{i}") for i in range(100)))
    assert results == [Claim.CLAIMED] * 100
    await asyncio.gather(*(claims.complete(f"k{i}") for i in range(100)))
    assert store.calls == [("claim", 100), ("complete", 100)]
    assert claims.held == set()


async def test_a_batch_claim_is_one_call_with_the_claims_of_its_tick() -> None:
    store = FakeStore()
    claims = ClaimBatcher(store, lease_ms=1000)
    await claims.claim("held")
    batch, alone = await asyncio.gather(claims.claim_all(["a", "b", "held", "a"]), claims.claim("c"))
    # Held by this worker, or twice in the batch: HELD without asking Redis.
    assert batch == [Claim.CLAIMED, Claim.CLAIMED, Claim.HELD, Claim.HELD]
    assert alone is Claim.CLAIMED
    assert store.calls == [("claim", 1), ("claim", 3)]
    marks = [claims.complete_soon([key]) for key in ("a", "b")]
    assert [await mark for mark in marks] == [[True], [True]]
    assert store.calls[-1] == ("complete", 2)
    assert claims.held == {"held", "c"}


async def test_a_worker_never_claims_an_event_twice_at_once() -> None:
    claims = ClaimBatcher(FakeStore(), lease_ms=1000)
    assert list(await asyncio.gather(claims.claim("k"), claims.claim("k"))) == [Claim.CLAIMED, Claim.HELD]
    assert await claims.claim("k") is Claim.HELD
    await claims.release("k")
    assert await claims.claim("k") is Claim.CLAIMED


async def test_claims_wait_out_an_outage(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("consumers.claims.OUTAGE_BACKOFF_S", (0.001, 0.002))
    store = FakeStore(down=3)
    claims = ClaimBatcher(store, lease_ms=1000)
    assert await claims.claim("k") is Claim.CLAIMED
    assert store.calls == [("claim", 1)]


def test_the_context_knows_the_last_attempt_and_the_time_left() -> None:
    logger = bound_logger(logging.getLogger("t"), event_id="evt_1", event_type="push", attempt=3)
    context = Context(attempt=3, max_attempts=3, deadline=0.0, idempotency_key="evt_1", log=logger, state=None)
    assert context.last_attempt
    assert context.time_left_s == 0.0
    assert logger.process("ran", {})[0] == "event evt_1 (push, attempt 3): ran"


def test_a_selection_by_id_and_time() -> None:
    noon = datetime(2026, 11, 26, 12, tzinfo=UTC)
    ms = int(noon.timestamp() * 1000)
    assert Selection().matches("a", ms)
    assert Selection(ids=frozenset({"a"})).matches("a", ms)
    assert not Selection(ids=frozenset({"a"})).matches("b", ms)
    assert Selection(since=noon).matches("a", ms)
    assert not Selection(until=noon).matches("a", ms)
    assert not Selection(since=noon).matches("a", ms - 1)


def test_the_replay_command_line() -> None:
    args = parser().parse_args(["replay", "--id", "a", "--id", "b", "--since", "2026-11-26T12:00:00Z", "--dry-run"])
    assert (args.command, args.id, args.dry_run, args.force, args.rate) == ("replay", ["a", "b"], True, False, 10.0)
    assert args.since == datetime(2026, 11, 26, 12, tzinfo=UTC)
    assert parser().parse_args([]).command is None
    with pytest.raises(SystemExit):
        parser().parse_args(["replay", "--rate", "-1"])


class _Kafka:
    """Only what draining and dispatching touch: commits are counted, one partition is assigned."""

    def __init__(self, assigned: set[Partition]) -> None:
        self.commits: list[dict[Partition, int]] = []
        self.assigned = assigned

    async def commit(self, offsets: dict[Partition, int]) -> bool:
        self.commits.append(dict(offsets))
        return True

    def assignment(self) -> set[Partition]:
        return self.assigned


def _worker(kafka: _Kafka) -> Worker:
    settings = Settings(consumer_handlers=(), consumer_shutdown_grace_s=0.2, consumer_providers=("hmac",))
    store = IdempotencyStore(redis.asyncio.Redis())  # never called: no record is processed
    return Worker.from_settings(settings, Registry(), store=store, kafka=kafka)  # type: ignore[arg-type]


async def test_a_stop_during_a_revocation_drains_both_without_error() -> None:
    part = Partition("webhooks.hmac", 0)
    kafka = _Kafka({part})
    worker = _worker(kafka)
    state = worker._parts[part] = PartitionState()
    state.fetched(7)
    state.running.add(asyncio.create_task(asyncio.sleep(5)))

    # The revocation callback drains; SIGTERM arrives meanwhile and the loop's exit drains everything too.
    await asyncio.gather(worker._drain([part]), worker._drain(list(worker._parts)))

    assert worker._parts == {}


async def test_records_fetched_for_a_partition_revoked_meanwhile_are_left_to_its_next_owner() -> None:
    kafka = _Kafka(set())  # revoked between the fetch and the dispatch
    worker = _worker(kafka)
    record = SimpleNamespace(topic="webhooks.hmac", partition=0, offset=3, key=b"k", value=b"{}", headers=[])

    worker._dispatch({Partition("webhooks.hmac", 0): [record]})

    assert worker._parts == {}
    assert len(worker._lanes) == 0


class BrokenStore(FakeStore):
    """Completions fail with a bug (no Redis error: those are waited out); renewals fail once, then work."""

    def __init__(self) -> None:
        super().__init__()
        self.renewals = 0

    async def complete(self, keys: Sequence[str], token: str) -> list[bool]:
        raise ValueError("a script returned something unexpected")

    async def renew(self, keys: Sequence[str], token: str, lease_ms: int) -> list[bool]:
        self.renewals += 1
        if self.renewals == 1:
            raise RuntimeError("the first renewal broke")
        return [self.values.get(key) == token for key in keys]


async def test_a_completion_that_fails_leaves_no_claim_renewed_for_ever() -> None:
    claims = ClaimBatcher(BrokenStore(), lease_ms=1000)
    assert await claims.claim("k") is Claim.CLAIMED
    with pytest.raises(ValueError, match="unexpected"):
        await claims.complete("k")
    assert claims.held == set()


async def test_renewals_are_a_third_of_a_lease_apart_start_to_start() -> None:
    # One that took its whole third (abandoned unanswered) is followed by the next at once, not a third later.
    now = time.monotonic()
    assert await next_renewal(now - 0.1, 300) == pytest.approx(now, abs=0.02)
    assert time.monotonic() - now < 0.02
    assert await next_renewal(now, 300) == pytest.approx(now + 0.1)
    assert time.monotonic() - now >= 0.1


async def test_renewals_go_on_after_a_renewal_fails() -> None:
    store = BrokenStore()
    claims = ClaimBatcher(store, lease_ms=300)  # renewed every 0.1 s
    assert await claims.claim("k") is Claim.CLAIMED
    renewing = asyncio.create_task(claims.renew_forever())
    await asyncio.sleep(0.35)
    assert not renewing.done()
    renewing.cancel()
    assert store.renewals >= 3
    assert claims.held == {"k"}
