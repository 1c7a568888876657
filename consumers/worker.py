"""The consumer loop: fetch, claim, handle, complete, route failures, commit; and a clean shutdown.

Per fetched batch:

1. Decode each record (`Envelope` plus the provider's payload model); an invalid one goes to the DLQ.
   A retry record whose `HEADER_NOT_BEFORE` lies ahead pauses its partition until then (the event topics
   keep flowing); the partition is read again from that record.
2. Rounds, until every record is dealt with: claim the next record of every event id in one Redis call.
   `DONE` is a duplicate; `HELD` waits for the next round (never skipped); `CLAIMED` runs its handlers,
   concurrently across event ids and in offset order within one. Successes are completed in one call;
   failures are released in one call and sent to the retry topic or the DLQ, acknowledged before going on.
3. Commit, per partition, the offset after the last record that was dealt with, all before it too.

Redis or Kafka unavailable: back off and try the same call again; nothing is skipped or committed past.
`stop()`: no new fetch or round; the running round may finish within `CONSUMER_SHUTDOWN_GRACE_S`, else it
is cancelled and its claims released; then commit, leave the group.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
import time
from collections import deque
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from functools import partial
from typing import Any, TypeVar

from pydantic import ValidationError

from consumers.errors import BrokerUnavailable, HandlerTimeout, InvalidEvent, StoreUnavailable
from consumers.idempotency import Claim, IdempotencyStore, idempotency_key
from consumers.kafka import KafkaClient, OutRecord, Partition, Record
from consumers.metrics import ConsumerMetrics, Outcome
from consumers.registry import Event, Registry
from consumers.routing import Route, backoff_ms, failure_record, failure_route, header, now_ms
from consumers.settings import Settings
from schemas import Envelope
from schemas.payloads import payload_model
from schemas.topics import HEADER_ATTEMPT, HEADER_NOT_BEFORE

log = logging.getLogger(__name__)

T = TypeVar("T")

# How long a fetch waits for records when there are none, in ms: also the longest a resumed partition waits.
FETCH_TIMEOUT_MS = 1000
# How often an event held by another member's claim is asked for again, in seconds.
HELD_POLL_S = 0.2
# Backoff while Redis or Kafka is unavailable, in seconds: doubles from the first to the cap.
OUTAGE_BACKOFF_S = (0.1, 5.0)
# On shutdown, how long releasing the claims of cancelled handlers may take, in seconds (else they expire).
RELEASE_TIMEOUT_S = 5.0


@dataclass(eq=False, slots=True)
class _Item:
    record: Record
    route: Route
    attempt: int
    key: str = ""
    event: Event[Any] | None = None
    invalid: InvalidEvent | None = None
    done: bool = False


@dataclass(eq=False, slots=True)
class _Batch:
    parts: dict[Partition, list[_Item]]
    token: str = field(default_factory=lambda: secrets.token_hex(16))
    # Keys claimed by this batch and neither completed nor released yet.
    in_flight: set[str] = field(default_factory=set)


class Worker:
    """One consumer-group member.

    Args:
        settings: the process settings (group, timeouts, attempts, batch size, concurrency).
        kafka: the Kafka adapter; `run` starts and stops it.
        store: the idempotency store.
        registry: the handlers.
        metrics: where to count.
        routes: the topics per provider; by default `Route.for_provider` of each `CONSUMER_PROVIDERS`.
    """

    def __init__(
        self,
        *,
        settings: Settings,
        kafka: KafkaClient,
        store: IdempotencyStore,
        registry: Registry,
        metrics: ConsumerMetrics,
        routes: Sequence[Route] | None = None,
    ) -> None:
        self._settings = settings
        self._group = settings.consumer_group
        self._kafka = kafka
        self._store = store
        self._registry = registry
        self._metrics = metrics
        if routes is None:
            routes = [Route.for_provider(p, self._group) for p in settings.consumer_providers]
        self._by_topic: dict[str, tuple[Route, bool]] = {}
        for route in routes:
            self._by_topic[route.topic] = (route, False)
            self._by_topic[route.retry_topic] = (route, True)
        # Retry partitions paused until a record's not-before time (epoch ms).
        self._deferred: dict[Partition, int] = {}
        self._stopping = asyncio.Event()

    @property
    def topics(self) -> list[str]:
        """The topics this worker reads: each route's event topic and retry topic."""
        return list(self._by_topic)

    def stop(self) -> None:
        """Ask the worker to stop (from a signal handler, or a test); `run` returns once it has."""
        self._stopping.set()

    async def run(self) -> None:
        """Join the group and process until `stop()`; then commit and leave the group."""
        await self._kafka.start(self.topics, on_revoked=self._on_revoked)
        log.info("consuming %s as group %s", ", ".join(self.topics), self._group)
        try:
            while not self._stopping.is_set():
                self._resume_due()
                fetch = self._kafka.fetch(
                    timeout_ms=self._fetch_timeout_ms(), max_records=self._settings.consumer_max_batch
                )
                batch = await self._unless_stopped(fetch)
                if batch is None:
                    break
                await self._record_lag()
                if batch:
                    await self._handle(self._prepare(batch))
        finally:
            await self._kafka.stop()
            log.info("left group %s", self._group)

    # ------------------------------------------------------------------------------------------ batches

    def _prepare(self, batch: dict[Partition, list[Record]]) -> _Batch:
        parts: dict[Partition, list[_Item]] = {}
        now = now_ms()
        for part, records in batch.items():
            route, is_retry = self._by_topic[part.topic]
            items = parts.setdefault(part, [])
            for record in records:
                not_before = _int_header(record, HEADER_NOT_BEFORE) if is_retry else None
                if not_before is not None and not_before > now:
                    # Read the partition again from this record once its time has come.
                    self._kafka.seek(part, record.offset)
                    self._kafka.pause(part)
                    self._deferred[part] = not_before
                    break
                attempt = max(1, _int_header(record, HEADER_ATTEMPT) or 1) if is_retry else 1
                items.append(self._decode(record, route, attempt))
            if items:
                self._metrics.consumed.labels(route.provider, self._group).inc(len(items))
        return _Batch(parts)

    def _decode(self, record: Record, route: Route, attempt: int) -> _Item:
        item = _Item(record, route, attempt)
        try:
            envelope = Envelope.from_bytes(record.value or b"")
        except ValidationError as exc:
            item.invalid = InvalidEvent(f"no valid envelope: {_describe(exc)}")
            return item
        model = payload_model(envelope.provider)
        try:
            payload = model.model_validate(envelope.payload) if model is not None else envelope.payload
        except ValidationError as exc:
            item.invalid = InvalidEvent(f"invalid {envelope.provider} payload: {_describe(exc, 'payload.')}")
            return item
        item.key = idempotency_key(self._group, route.provider, envelope.id)
        item.event = Event(envelope=envelope, payload=payload, attempt=attempt, idempotency_key=envelope.id)
        return item

    async def _handle(self, batch: _Batch) -> None:
        task = asyncio.create_task(self._process(batch))
        stopping = asyncio.create_task(self._stopping.wait())
        try:
            await asyncio.wait({task, stopping}, return_when=asyncio.FIRST_COMPLETED)
            if not task.done():
                log.info(
                    "stopping: letting in-flight handlers finish for up to %ss",
                    self._settings.consumer_shutdown_grace_s,
                )
                await asyncio.wait({task}, timeout=self._settings.consumer_shutdown_grace_s)
        finally:
            stopping.cancel()
            if not task.done():
                task.cancel()
                await asyncio.wait({task})
            if batch.in_flight:
                await self._release_abandoned(batch)
            await self._commit(batch)
        if not task.cancelled():
            task.result()

    async def _process(self, batch: _Batch) -> None:
        items = [item for items in batch.parts.values() for item in items]
        invalid = [item for item in items if item.invalid is not None]
        if invalid:
            records = [self._failure(item, item.invalid, Outcome.INVALID) for item in invalid if item.invalid]
            await self._until_available(lambda: self._kafka.send_all(records))
            for item in invalid:
                self._resolve(item, Outcome.INVALID)
        # Records of one event id, in the order they came; one of each is claimed per round.
        queues: dict[str, deque[_Item]] = {}
        for item in items:
            if item.event is not None:
                queues.setdefault(item.key, deque()).append(item)
        while queues and not self._stopping.is_set():
            heads = [queue[0] for queue in queues.values()]
            keys = [item.key for item in heads]
            claims = await self._until_available(
                partial(self._store.claim, keys, batch.token, self._settings.consumer_lease_ms)
            )
            claimed = [item for item, claim in zip(heads, claims, strict=True) if claim is Claim.CLAIMED]
            batch.in_flight.update(item.key for item in claimed)
            duplicates = [item for item, claim in zip(heads, claims, strict=True) if claim is Claim.DONE]
            for item in duplicates:
                self._resolve(item, Outcome.DUPLICATE)
            if claimed:
                await self._run_round(batch, claimed)
            for item in duplicates + claimed:
                queue = queues[item.key]
                queue.popleft()
                if not queue:
                    del queues[item.key]
            if not claimed and not duplicates:
                await asyncio.sleep(HELD_POLL_S)

    async def _run_round(self, batch: _Batch, items: list[_Item]) -> None:
        semaphore = asyncio.Semaphore(self._settings.consumer_concurrency)
        errors: dict[_Item, BaseException] = {}
        renewing = asyncio.create_task(self._renew_claims(batch))
        try:
            async with asyncio.TaskGroup() as group:
                for item in items:
                    group.create_task(self._run_handlers(item, semaphore, errors))
        finally:
            renewing.cancel()
        succeeded = [item for item in items if item not in errors]
        failed = [item for item in items if item in errors]
        ttl_s = self._settings.consumer_done_ttl_s
        if succeeded:
            keys = [item.key for item in succeeded]
            marked = await self._until_available(lambda: self._store.complete(keys, batch.token, ttl_s))
            batch.in_flight.difference_update(keys)
            for item, ok in zip(succeeded, marked, strict=True):
                if not ok:
                    log.warning("event %s: its claim lapsed before it was marked done", item.key)
                self._resolve(item, Outcome.OK)
        if failed:
            keys = [item.key for item in failed]
            # Released first, so that the retry, wherever it is read, can claim the event.
            await self._until_available(lambda: self._store.release(keys, batch.token))
            batch.in_flight.difference_update(keys)
            routed = [
                (item, failure_route(errors[item], item.attempt, self._settings.consumer_max_attempts))
                for item in failed
            ]
            records = [self._failure(item, errors[item], outcome) for item, outcome in routed]
            await self._until_available(lambda: self._kafka.send_all(records))
            for item, outcome in routed:
                self._resolve(item, outcome)

    async def _run_handlers(
        self, item: _Item, semaphore: asyncio.Semaphore, errors: dict[_Item, BaseException]
    ) -> None:
        event = item.event
        assert event is not None
        handlers = self._registry.handlers_for(event.provider, event.type)
        duration = self._metrics.handler_duration.labels(item.route.provider, self._group)
        timeout_s = self._settings.consumer_handler_timeout_s
        async with semaphore:
            for handler in handlers:
                started = time.perf_counter()
                deadline = asyncio.timeout(timeout_s)
                try:
                    async with deadline:
                        await handler(event)
                except Exception as exc:
                    error: BaseException = exc
                    if isinstance(exc, TimeoutError) and deadline.expired():
                        error = HandlerTimeout(f"{_name(handler)} ran past {timeout_s}s")
                    errors[item] = error
                    log.warning(
                        "event %s attempt %d: %s failed: %s",
                        event.id,
                        event.attempt,
                        _name(handler),
                        type(error).__name__,
                    )
                    return
                finally:
                    duration.observe(time.perf_counter() - started)

    async def _renew_claims(self, batch: _Batch) -> None:
        # A third of a lease apart: a claim outlives one failed renewal.
        interval_s = self._settings.consumer_lease_ms / 3000
        while True:
            await asyncio.sleep(interval_s)
            try:
                await self._store.renew(sorted(batch.in_flight), batch.token, self._settings.consumer_lease_ms)
            except StoreUnavailable as exc:
                log.warning("could not renew claims: %s", exc)

    def _failure(self, item: _Item, error: BaseException, outcome: Outcome) -> OutRecord:
        delay = backoff_ms(error, item.attempt, self._settings.consumer_retry_backoff_ms)
        if outcome is not Outcome.RETRIED:
            log.warning(
                "event at %s[%d]@%d dead-lettered: %s",
                item.record.topic,
                item.record.partition,
                item.record.offset,
                type(error).__name__,
            )
        return failure_record(item.record, item.route, outcome, error, item.attempt, now_ms=now_ms(), delay_ms=delay)

    def _resolve(self, item: _Item, outcome: Outcome) -> None:
        item.done = True
        self._metrics.outcome(item.route.provider, self._group, outcome)

    async def _release_abandoned(self, batch: _Batch) -> None:
        keys = sorted(batch.in_flight)
        try:
            async with asyncio.timeout(RELEASE_TIMEOUT_S):
                await self._store.release(keys, batch.token)
            batch.in_flight.clear()
            log.info("released %d claims of unfinished events", len(keys))
        except (StoreUnavailable, TimeoutError):
            log.warning("could not release %d claims; they expire after the lease", len(keys))

    async def _commit(self, batch: _Batch) -> None:
        offsets: dict[Partition, int] = {}
        for part, items in batch.parts.items():
            for item in items:
                if not item.done:
                    break
                offsets[part] = item.record.offset + 1
        if offsets:
            await self._kafka.commit(offsets)

    # ---------------------------------------------------------------------------------------- plumbing

    async def _until_available(self, call: Callable[[], Awaitable[T]]) -> T:
        delay_s, cap_s = OUTAGE_BACKOFF_S
        while True:
            try:
                return await call()
            except (StoreUnavailable, BrokerUnavailable) as exc:
                log.warning("%s; trying again in %.1fs", exc, delay_s)
                await asyncio.sleep(delay_s)
                delay_s = min(delay_s * 2, cap_s)

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

    def _on_revoked(self, parts: list[Partition]) -> None:
        for part in parts:
            self._deferred.pop(part, None)
            # Another member reports this partition's lag now.
            with contextlib.suppress(KeyError):
                self._metrics.lag.remove(self._group, part.topic, str(part.partition))

    def _resume_due(self) -> None:
        now = now_ms()
        for part, not_before in list(self._deferred.items()):
            if not_before <= now:
                del self._deferred[part]
                if part in self._kafka.assignment():
                    self._kafka.resume(part)

    def _fetch_timeout_ms(self) -> int:
        if not self._deferred:
            return FETCH_TIMEOUT_MS
        return max(1, min(FETCH_TIMEOUT_MS, min(self._deferred.values()) - now_ms()))

    async def _record_lag(self) -> None:
        for part, lag in (await self._kafka.lags()).items():
            self._metrics.lag.labels(self._group, part.topic, str(part.partition)).set(lag)


def _int_header(record: Record, name: str) -> int | None:
    value = header(record, name)
    try:
        return int(value) if value is not None else None
    except ValueError:
        return None


def _name(handler: object) -> str:
    return getattr(handler, "__qualname__", None) or repr(handler)


def _describe(exc: ValidationError, prefix: str = "") -> str:
    # Where and what, never the offending input: it is payload data.
    problems = [
        f"{prefix}{'.'.join(str(part) for part in error['loc']) or 'value'}: {error['msg']}"
        for error in exc.errors(include_url=False, include_input=False, include_context=False)[:5]
    ]
    return "; ".join(problems)
