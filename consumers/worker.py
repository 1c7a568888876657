"""The consumer loop: fetch all the time, hand records on, pause what is busy, commit what is dealt with.

The loop never waits for a handler. It fetches (at least every `FETCH_TIMEOUT_MS`, so the member never
looks stalled to the group however slow a handler is), decodes each record and hands it on: the records
whose Kafka key is alone in the fetch and not busy as one batch per partition (`Delivery.deliver_all`: one
claim call, no task per record), the others to the lane of their key (`Lanes`: same key in order, other keys
concurrently), where `Delivery` claims, runs and resolves each. A partition with two batches
(`BATCHES_IN_FLIGHT` times `CONSUMER_MAX_BATCH` records) in flight is paused until it drains; a retry partition
whose next record is not due yet is paused until it is (the event topics keep flowing). After every fetch it
commits, per partition, the first offset that is not dealt with yet (`PartitionState`).

Before partitions are revoked, and on `stop()`: queued records of those partitions are dropped, running
handlers get up to `CONSUMER_SHUTDOWN_GRACE_S` to finish (then they are cancelled and their claims
released), and what is dealt with is committed; then the rebalance goes on, or the worker leaves the group.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import logging
import time
from collections.abc import Awaitable, Hashable, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any, TypeVar

from prometheus_client import CollectorRegistry

from consumers.claims import ClaimBatcher
from consumers.decoding import Decoded, Invalid, decode
from consumers.delivery import Delivery
from consumers.idempotency import ClaimStore
from consumers.kafka import KafkaClient, Partition, Record, attempt_of, int_header
from consumers.lanes import Lanes
from consumers.metrics import ConsumerMetrics
from consumers.partitions import PartitionState
from consumers.registry import Registry
from consumers.retries import now_ms
from consumers.runner import HandlerRunner
from consumers.settings import Settings
from consumers.tracing import TracedClaimBatcher, Tracing
from schemas.topics import HEADER_NOT_BEFORE, GroupTopics

log = logging.getLogger(__name__)

T = TypeVar("T")

# Longest wait of a fetch when nothing is in flight, in ms: also the longest a due retry partition waits.
FETCH_TIMEOUT_MS = 1000
# Longest wait of a fetch while records are in flight, in ms, and the least between two commits then: how soon a
# finished record gets committed.
COMMIT_INTERVAL_MS = 200
# Longest wait of a fetch while a partition is paused for having too much in flight, in ms: how soon it resumes
# once its records are dealt with (a paused partition returns nothing, so the fetch would wait its whole timeout).
BUSY_POLL_MS = 10
# How long the loop waits for a full partition to drain before it pauses it, in seconds.
BUSY_WAIT_S = 0.5
# Batches of a partition in flight before it is full: the next one is fetched and read while the one before waits
# for Redis, where with one the loop sat idle through each batch's two round trips (docs/performance.md).
BATCHES_IN_FLIGHT = 2


@dataclass(frozen=True, slots=True)
class Limits:
    """How much one worker takes on, and how long it waits.

    Attributes:
        max_batch: records per fetch, one Redis round trip per batch (`CONSUMER_MAX_BATCH`); a partition with
            `BATCHES_IN_FLIGHT` times as many in flight is paused.
        max_inflight_bytes: record bytes in flight before every partition is paused
            (`CONSUMER_MAX_INFLIGHT_BYTES`).
        max_poll_interval_ms: the longest the group waits between fetches (`CONSUMER_MAX_POLL_INTERVAL_MS`).
        shutdown_grace_s: how long running handlers may finish on a stop or a revocation
            (`CONSUMER_SHUTDOWN_GRACE_S`).
        overdue_after_s: a claim held longer than this counts as overdue (the longest handler timeout).
    """

    max_batch: int
    max_inflight_bytes: int
    max_poll_interval_ms: int
    shutdown_grace_s: float
    overdue_after_s: float


class Worker:
    """One consumer-group member. `Worker.from_settings` builds one from the process settings.

    Args:
        group: the consumer group (`CONSUMER_GROUP`).
        topics: the topics per provider it reads and writes.
        kafka: the Kafka adapter; `run` starts and stops it.
        claims: this worker's claims.
        delivery: takes each record from claim to outcome.
        metrics: where to count.
        limits: how much it takes on, and how long it waits.
        tracing: OpenTelemetry spans of each record and commit (`consumers.tracing`); None, the default, is off.
    """

    def __init__(
        self,
        group: str,
        topics: Sequence[GroupTopics],
        kafka: KafkaClient,
        claims: ClaimBatcher,
        delivery: Delivery,
        metrics: ConsumerMetrics,
        limits: Limits,
        *,
        tracing: Tracing | None = None,
    ) -> None:
        self._group = group
        self._kafka = kafka
        self._claims = claims
        self._delivery = delivery
        self._metrics = metrics
        self._max_batch = limits.max_batch
        self._max_in_flight = BATCHES_IN_FLIGHT * limits.max_batch
        self._max_inflight_bytes = limits.max_inflight_bytes
        self._max_poll_interval_ms = limits.max_poll_interval_ms
        self._shutdown_grace_s = limits.shutdown_grace_s
        self._overdue_after_s = limits.overdue_after_s
        self._tracing = tracing
        # Per topic read: its provider's topics, and whether it is the retry topic.
        self._by_topic: dict[str, tuple[GroupTopics, bool]] = {}
        for provider_topics in topics:
            self._by_topic[provider_topics.topic] = (provider_topics, False)
            self._by_topic[provider_topics.retry_topic] = (provider_topics, True)
        delivery.runner.track(provider_topics.provider for provider_topics in topics)
        self._lanes = Lanes()
        self._parts: dict[Partition, PartitionState] = {}
        self._stopping = asyncio.Event()
        # Set when a partition drops below `_max_in_flight` records in flight.
        self._drained = asyncio.Event()
        # Record bytes fetched and not dealt with yet (`max_inflight_bytes`).
        self._inflight_bytes = 0
        # When the next commit is due while records are in flight (monotonic seconds).
        self._next_commit_at = 0.0

    @classmethod
    def from_settings(
        cls,
        settings: Settings,
        registry: Registry[Any],
        *,
        store: ClaimStore,
        metrics: ConsumerMetrics | None = None,
        kafka: KafkaClient | None = None,
        topics: Sequence[GroupTopics] | None = None,
        tracing: Tracing | None = None,
    ) -> Worker:
        """The worker of `python -m consumers`, its parts built from the settings.

        Args:
            settings: the process settings.
            registry: the handlers; their modules' lifespans are entered by `run`.
            store: the idempotency store (its Redis client stays the caller's to close).
            metrics: where to count; by default a registry of its own (`Worker.metrics`).
            kafka: the Kafka adapter; by default `KafkaClient.from_settings(settings)`.
            topics: the topics per provider; by default `GroupTopics.for_provider` of each `CONSUMER_PROVIDERS`.
            tracing: OpenTelemetry spans (`consumers.tracing`); None, the default, is off.
        """
        group = settings.consumer_group
        metrics = metrics if metrics is not None else ConsumerMetrics(CollectorRegistry())
        kafka = kafka if kafka is not None else KafkaClient.from_settings(settings)
        if topics is None:
            topics = [GroupTopics.for_provider(p, group) for p in settings.consumer_providers]
        lease_ms = settings.consumer_lease_ms
        claims = (
            ClaimBatcher(store, lease_ms=lease_ms)
            if tracing is None
            else TracedClaimBatcher(store, lease_ms=lease_ms, tracing=tracing)
        )
        runner = HandlerRunner.from_settings(settings, registry, metrics, tracing=tracing)
        delivery = Delivery(
            claims,
            runner,
            kafka,
            metrics,
            group=group,
            retry_backoff_ms=settings.consumer_retry_backoff_ms,
        )
        limits = Limits(
            settings.consumer_max_batch,
            settings.consumer_max_inflight_bytes,
            settings.consumer_max_poll_interval_ms,
            settings.consumer_shutdown_grace_s,
            runner.longest_timeout_s,
        )
        return cls(group, topics, kafka, claims, delivery, metrics, limits, tracing=tracing)

    @property
    def metrics(self) -> ConsumerMetrics:
        """Where this worker counts."""
        return self._metrics

    @property
    def topics(self) -> list[str]:
        """The topics this worker reads: each provider's event topic and retry topic."""
        return list(self._by_topic)

    def stop(self) -> None:
        """Ask the worker to stop (from a signal handler, or a test); `run` returns once it has."""
        self._stopping.set()

    async def run(self) -> None:
        """Enter the handlers' lifespans, join the group and process until `stop()`; then drain, commit, leave the
        group and exit the lifespans.

        Raises:
            StartupError: a handler module's lifespan failed to start; the worker did not join the group.
        """
        async with self._delivery.runner.lifespan():
            await self._consume()

    async def _consume(self) -> None:
        await self._kafka.start(self.topics, on_revoked=self._on_revoked, on_assigned=self._on_assigned)
        log.info("consuming %s as group %s", ", ".join(self.topics), self._group)
        renewing = asyncio.create_task(self._claims.renew_forever())
        try:
            while not self._stopping.is_set():
                if renewing.done():
                    # It never returns on its own; a claim left unrenewed lapses and its event runs twice.
                    log.error("the claim renewal stopped (%r); started again", _outcome_of(renewing))
                    renewing = asyncio.create_task(self._claims.renew_forever())
                await self._wait_for_room()
                self._pause_or_resume()
                fetch = self._kafka.fetch(timeout_ms=self._fetch_timeout_ms(), max_records=self._max_batch)
                batch = await self._unless_stopped(fetch)
                if batch is None:
                    break
                self._dispatch(batch)
                if self._due():
                    await self._commit()
                    await self._record_lag()
        finally:
            try:
                await self._drain(list(self._parts))
            finally:
                renewing.cancel()
                await self._lanes.close()
                await self._claims.close()
                await self._kafka.stop()
                log.info("left group %s", self._group)

    # ------------------------------------------------------------------------------------------ records

    def _dispatch(self, batch: dict[Partition, list[Record]]) -> None:
        now = now_ms()
        fetched: list[tuple[PartitionState, Decoded | Invalid]] = []
        for part, records in batch.items():
            state = self._parts.get(part)
            if state is None:
                if part not in self._kafka.assignment():
                    continue  # revoked between the fetch and now: the next owner reads it from the commit
                state = self._parts[part] = PartitionState()  # fetched before the assignment callback ran
            if state.revoked:
                continue  # fetched just before a revocation: the next owner reads it from the commit
            topics, is_retry = self._by_topic[part.topic]
            count = 0
            for record in records:
                not_before = int_header(record, HEADER_NOT_BEFORE) if is_retry else None
                if not_before is not None and not_before > now:
                    # Read the partition again from this record once its time has come.
                    self._kafka.seek(part, record.offset)
                    state.not_before_ms = not_before
                    self._pause_or_resume_one(part, state, now)
                    break
                item = decode(
                    record, topics, self._group, attempt_of(record) if is_retry else 1, self._delivery.runner.registry
                )
                state.fetched(record.offset)
                self._inflight_bytes += _size(record)
                fetched.append((state, item))
                count += 1
            if count:
                self._metrics.consumed_of(topics.provider, self._group).inc(count)
        self._hand_on(fetched)

    def _hand_on(self, fetched: list[tuple[PartitionState, Decoded | Invalid]]) -> None:
        # Records of a key that is alone in the fetch and not busy from an earlier one go in one batch per partition
        # (`Delivery.deliver_all`: no task per record); the others keep their key's order through its lane.
        lanes = [_lane(item) for _, item in fetched]
        repeated = {lane for lane, count in collections.Counter(lanes).items() if count > 1}
        batches: dict[PartitionState, tuple[list[Decoded], list[Hashable]]] = {}
        for (state, item), lane in zip(fetched, lanes, strict=True):
            if (
                self._tracing is None
                and lane not in repeated
                and not self._lanes.busy(lane)
                and self._delivery.batchable(item)
            ):
                assert isinstance(item, Decoded)
                self._lanes.hold(lane)
                batch = batches.get(state)
                if batch is None:
                    batch = batches[state] = ([], [])
                batch[0].append(item)
                batch[1].append(lane)
            else:
                self._lanes.submit(lane, partial(self._job, state, item))
        for state, (items, held) in batches.items():
            task = asyncio.create_task(self._batch(state, items))
            # Running from now on, for a revocation's drain: it waits for the batch, or cancels it after the grace.
            state.running.add(task)
            task.add_done_callback(state.running.discard)
            # A callback, not a `finally`: a task cancelled before it started never runs its body.
            task.add_done_callback(partial(self._batch_over, items, held))

    async def _batch(self, state: PartitionState, items: list[Decoded]) -> None:
        await self._delivery.deliver_all(items, revoked=lambda: state.revoked, resolved=partial(self._resolved, state))

    def _resolved(self, state: PartitionState, item: Decoded | Invalid) -> None:
        state.finished(item.record.offset)
        if state.in_flight < self._max_in_flight:
            self._drained.set()

    def _batch_over(self, items: list[Decoded], held: list[Hashable], task: asyncio.Task[None]) -> None:
        if not task.cancelled() and task.exception() is not None:
            log.error("a batch of %d records failed", len(items), exc_info=task.exception())
        for lane in held:
            self._lanes.release(lane)
        self._inflight_bytes -= sum(_size(item.record) for item in items)

    async def _job(self, state: PartitionState, item: Decoded | Invalid) -> None:
        try:
            await self._handle(state, item)
        finally:
            self._inflight_bytes -= _size(item.record)

    async def _handle(self, state: PartitionState, item: Decoded | Invalid) -> None:
        if state.revoked:
            return
        task = asyncio.current_task()
        assert task is not None
        state.running.add(task)
        try:
            if self._tracing is None:
                outcome = await self._delivery.deliver(item, revoked=lambda: state.revoked)
            else:
                with self._tracing.consume(item) as name_outcome:
                    outcome = await self._delivery.deliver(item, revoked=lambda: state.revoked)
                    name_outcome(outcome)
        finally:
            state.running.discard(task)
        if outcome is not None:
            self._resolved(state, item)

    def _due(self) -> bool:
        # Whether to commit and report now: after every fetch while nothing is in flight, else at most once per
        # COMMIT_INTERVAL_MS (under load a fetch returns every few ms, and a commit is a broker round trip).
        now = time.monotonic()
        if now < self._next_commit_at and any(state.in_flight for state in self._parts.values()):
            return False
        self._next_commit_at = now + COMMIT_INTERVAL_MS / 1000
        return True

    async def _commit(self) -> None:
        offsets = {part: point for part, state in self._parts.items() if (point := state.to_commit()) is not None}
        if offsets and await self._commit_offsets(offsets):
            now = time.monotonic()
            for part, point in offsets.items():
                if (state := self._parts.get(part)) is not None:
                    state.committed = point
                    state.commit_moved_at = now

    async def _commit_offsets(self, offsets: dict[Partition, int]) -> bool:
        if self._tracing is None:
            return await self._kafka.commit(offsets)
        with self._tracing.commit():
            return await self._kafka.commit(offsets)

    # -------------------------------------------------------------------------------- flow control

    async def _wait_for_room(self) -> None:
        # Quick handlers drain a full partition in milliseconds: wait for that rather than pause it, since aiokafka
        # fetches a resumed partition again only after its prefetch backoff (~100 ms). Slow ones get paused.
        limit = self._max_in_flight
        if any(state.in_flight >= limit and not state.paused for state in self._parts.values()):
            self._drained.clear()
            wait_s = min(BUSY_WAIT_S, self._max_poll_interval_ms / 4000)
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(wait_s):
                    await self._drained.wait()

    def _pause_or_resume(self) -> None:
        now = now_ms()
        for part, state in self._parts.items():
            self._pause_or_resume_one(part, state, now)

    def _pause_or_resume_one(self, part: Partition, state: PartitionState, now: int) -> None:
        if state.not_before_ms is not None and state.not_before_ms <= now:
            state.not_before_ms = None
        # Paused, not left unfetched: the member keeps polling, so the group never takes it for dead.
        busy = state.in_flight >= self._max_in_flight
        full = self._inflight_bytes >= self._max_inflight_bytes
        pause = busy or full or state.not_before_ms is not None
        if pause != state.paused:
            if pause:
                self._kafka.pause(part)
            else:
                self._kafka.resume(part)
            state.paused = pause

    def _fetch_timeout_ms(self) -> int:
        timeout = FETCH_TIMEOUT_MS
        if any(state.in_flight for state in self._parts.values()):
            timeout = COMMIT_INTERVAL_MS
        if any(state.paused and state.not_before_ms is None for state in self._parts.values()):
            timeout = BUSY_POLL_MS
        due = [state.not_before_ms for state in self._parts.values() if state.not_before_ms is not None]
        if due:
            timeout = min(timeout, min(due) - now_ms())
        return max(1, timeout)

    # ------------------------------------------------------------------------------ group membership

    def _on_assigned(self, parts: list[Partition]) -> None:
        for part in parts:
            if part not in self._parts:
                self._parts[part] = PartitionState()

    async def _on_revoked(self, parts: list[Partition]) -> None:
        await self._drain(parts)
        for part in parts:
            # Another member reports this partition now. Zero first: with several members in one metrics
            # directory (CONSUMER_WORKERS) `remove` leaves the last value in this member's file.
            labels = (self._group, part.topic, str(part.partition))
            for gauge in (self._metrics.lag, self._metrics.committed_lag, self._metrics.commit_stalled):
                gauge.labels(*labels).set(0)
                gauge.remove(*labels)

    async def _drain(self, parts: list[Partition]) -> None:
        states = {part: self._parts[part] for part in parts if part in self._parts}
        for state in states.values():
            state.revoked = True
        running = {task for state in states.values() for task in state.running}
        if running:
            grace_s = self._shutdown_grace_s
            log.info("letting %d in-flight events finish for up to %ss before leaving", len(running), grace_s)
            late = running
            if grace_s > 0:
                _, late = await asyncio.wait(running, timeout=grace_s)
            for task in late:
                task.cancel()
            if late:
                await asyncio.wait(late)
                log.info("cancelled %d unfinished events; their claims are released", len(late))
        offsets = {part: point for part, state in states.items() if (point := state.to_commit()) is not None}
        if offsets:
            await self._commit_offsets(offsets)
        for part, state in states.items():
            # A drain beside this one (SIGTERM during a revocation) may have let go of it already.
            if self._parts.get(part) is state:
                del self._parts[part]

    # ---------------------------------------------------------------------------------------- plumbing

    async def _unless_stopped(self, call: Awaitable[T]) -> T | None:
        task = asyncio.ensure_future(call)
        stopping = asyncio.create_task(self._stopping.wait())
        try:
            await asyncio.wait({task, stopping}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            stopping.cancel()
            if not task.done():
                task.cancel()
                await asyncio.wait({task})
        return None if task.cancelled() else task.result()

    async def _record_lag(self) -> None:
        now = time.monotonic()
        for part, ends in (await self._kafka.ends()).items():
            labels = (self._group, part.topic, str(part.partition))
            self._metrics.lag.labels(*labels).set(max(0, ends.highwater - ends.position))
            state = self._parts.get(part)
            if state is None:
                continue
            # Before this member's first commit, its first fetched record is where the group's commit stood.
            start = state.committed if state.committed >= 0 else state.first_fetched
            behind = max(0, ends.highwater - (start if start >= 0 else ends.position))
            self._metrics.committed_lag.labels(*labels).set(behind)
            if behind == 0 or state.not_before_ms is not None:  # nothing waits, or a retry waits for its time
                state.commit_moved_at = now
            self._metrics.commit_stalled.labels(*labels).set(round(now - state.commit_moved_at, 3))
        overdue = self._claims.overdue(self._overdue_after_s)
        self._metrics.claims_overdue.labels(self._group).set(overdue)
        self._delivery.runner.report_in_flight()


def _size(record: Record) -> int:
    return len(record.value or b"") + len(record.key or b"")


def _outcome_of(task: asyncio.Task[None]) -> BaseException | None:
    return asyncio.CancelledError() if task.cancelled() else task.exception()


def _lane(item: Decoded | Invalid) -> Hashable:
    # Records of one Kafka key run in order; a record without a key needs no order with any other.
    record = item.record
    if record.key is not None:
        return (item.topics.provider, record.key)
    return (record.topic, record.partition, record.offset)
