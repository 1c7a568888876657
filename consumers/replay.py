"""Replay: run dead-lettered events through the group's handlers again, once the cause is fixed.

`python -m consumers replay` reads a group's DLQ topics from the beginning to their end (without a consumer
group: the DLQ is read, never consumed or changed), keeps the records the operator selected (all, by event
id, by the time they were dead-lettered, by a handler that failed) and runs each through the same claim
protocol and handlers as the worker, at a bounded rate. An event that is `done` already is a duplicate and
is not run again, unless `force` (an event done by mistake); an event another member holds a live claim on
is left to it (`busy`).
A replay that fails leaves the record where it is: nothing is written to any topic.

Records run as they are read (nothing is held but the keys replayed so far), and each event runs once per
replay however many dead copies it has. A claim is renewed while its handler runs (a handler that finds it
lost is stopped); a forced run that fails leaves an earlier `done` mark in place. Redis refusing or missing
a call is waited out, as the worker does.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Collection, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import partial
from typing import Any, TypeVar

from prometheus_client import CollectorRegistry

from consumers.claims import OUTAGE_BACKOFF_S, next_renewal
from consumers.decoding import Decoded, Invalid, decode
from consumers.errors import StoreUnavailable, until_available
from consumers.handlers import Event
from consumers.idempotency import Claim, ClaimStore
from consumers.kafka import TimedRecord, attempt_of, header, read_to_end
from consumers.metrics import ConsumerMetrics
from consumers.registry import Handler, Registry
from consumers.runner import HandlerRunner
from consumers.settings import Settings
from kafkaconfig.clients import aiokafka_options
from schemas.topics import HEADER_ERROR_CLASS, HEADER_ERROR_MESSAGE, HEADER_FAILED_HANDLERS, HEADER_ID, GroupTopics

log = logging.getLogger(__name__)

# Reads a topic from its beginning to its end as of the call (`consumers.kafka.read_to_end`).
Reader = Callable[[str], AsyncIterator[TimedRecord]]

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Selection:
    """Which dead letters to replay: all of them, or those with one of `ids`, dead-lettered within the window,
    that one of `handlers` failed (by registered name, `HEADER_FAILED_HANDLERS`)."""

    ids: frozenset[str] = frozenset()
    since: datetime | None = None
    until: datetime | None = None
    handlers: frozenset[str] = frozenset()

    def matches(self, event_id: str | None, dead_lettered_ms: int, failed: Collection[str] = ()) -> bool:
        """Whether a dead letter of this event id, written at this time, failed by these handlers, is selected."""
        if self.ids and event_id not in self.ids:
            return False
        if self.handlers and self.handlers.isdisjoint(failed):
            return False
        if self.since is not None and dead_lettered_ms < self.since.timestamp() * 1000:
            return False
        return not (self.until is not None and dead_lettered_ms >= self.until.timestamp() * 1000)


@dataclass(slots=True)
class Summary:
    """What a replay did, by outcome."""

    read: int = 0
    selected: int = 0
    processed: int = 0
    would_replay: int = 0
    handled: int = 0
    duplicates: int = 0
    failed: int = 0
    invalid: int = 0
    busy: int = 0
    missing: list[str] = field(default_factory=list)

    @property
    def complete(self) -> bool:
        """Whether every selected event is handled now (or was already), and every id asked for was found."""
        return not (self.failed or self.invalid or self.busy or self.missing)

    def line(self, *, dry_run: bool = False) -> str:
        """One line for the operator."""
        text = f"{self.selected} selected of {self.read} dead letters: " + (
            f"{self.would_replay} to replay, {self.duplicates} duplicates, {self.invalid} invalid"
            if dry_run
            else f"{self.handled} handled, {self.duplicates} duplicates, {self.failed} failed, "
            f"{self.invalid} invalid, {self.busy} busy"
        )
        return text + (f"; not found: {', '.join(self.missing)}" if self.missing else "")


@dataclass(frozen=True, slots=True)
class Plan:
    """One selected dead letter, and what a dry run says about it."""

    record: TimedRecord
    topics: GroupTopics
    event_id: str | None


@dataclass(frozen=True, kw_only=True, slots=True)
class Replayer:
    """Replays a group's dead letters.

    Attributes:
        group: the consumer group whose DLQ and claims are used.
        store: the idempotency store.
        runner: the group's handlers.
        read: reads a topic from beginning to end.
        lease_ms: the claim lease while a handler runs (`CONSUMER_LEASE_MS`).
        rate_per_s: the most handler runs started per second.
        force: run events that are `done` already.
        out: where the per-event lines go (a dry run's list, failures).
        token: this replay's claim token, told apart from the workers' in Redis.
    """

    group: str
    store: ClaimStore
    runner: HandlerRunner
    read: Reader
    lease_ms: int
    rate_per_s: float
    force: bool = False
    out: Callable[[str], None] = print
    token: str = field(init=False, default_factory=lambda: f"replay-{time.time_ns():x}")

    @classmethod
    def from_settings(
        cls,
        settings: Settings,
        registry: Registry[Any],
        store: ClaimStore,
        *,
        rate_per_s: float,
        force: bool = False,
        out: Callable[[str], None] = print,
    ) -> Replayer:
        """The replayer of `python -m consumers replay` for the group of the settings.

        Args:
            settings: the process settings (group, handler timeout, attempts, lease, Kafka).
            registry: the handlers.
            store: the idempotency store (its Redis client stays the caller's to close).
            rate_per_s: the most handler runs started per second.
            force: run events that are `done` already.
            out: where the per-event lines go.
        """
        # A metrics registry of its own: a replay serves no metrics.
        runner = HandlerRunner.from_settings(settings, registry, ConsumerMetrics(CollectorRegistry()))
        read = partial(read_to_end, aiokafka_options(settings))
        return cls(
            group=settings.consumer_group,
            store=store,
            runner=runner,
            read=read,
            lease_ms=settings.consumer_lease_ms,
            rate_per_s=rate_per_s,
            force=force,
            out=out,
        )

    async def dry_run(self, topics: Sequence[GroupTopics], selection: Selection) -> Summary:
        """List what `run` would do, without claiming or running anything; what it found."""
        summary = Summary()
        seen: set[str] = set()
        async for plan in self._select(topics, selection, summary):
            item = self._decode(plan, summary)
            if item is None:
                continue
            key = item.claim_key
            done = await self._is_done(key)
            if key in seen or (done and not self.force):
                summary.duplicates += 1
                self.out(f"duplicate {_where(plan)}: handled already (--force runs it again)")
            else:
                summary.would_replay += 1
                self.out(f"replay    {_where(plan)}: {_cause(plan.record)}")
            seen.add(key)
        return summary

    async def run(
        self,
        topics: Sequence[GroupTopics],
        selection: Selection,
        progress: Callable[[Summary], None] = lambda _: None,
    ) -> Summary:
        """Replay each selected dead letter, one at a time and at most `rate_per_s` runs a second, inside the
        handler modules' lifespans; what it did.

        `progress` is called with the summary so far after each dead letter.

        Raises:
            StartupError: a handler module's lifespan failed to start; nothing was replayed.
        """
        summary = Summary()
        next_start = time.monotonic()
        # The events of this replay so far: another dead copy of one is a duplicate, forced or not.
        seen: set[str] = set()
        async with self.runner.lifespan():
            async for plan in self._select(topics, selection, summary):
                item = self._decode(plan, summary)
                if item is None:
                    pass  # counted and reported
                elif item.claim_key in seen:
                    summary.duplicates += 1
                else:
                    seen.add(item.claim_key)
                    # The rate is kept before the claim: a claim never waits for it.
                    await asyncio.sleep(max(0.0, next_start - time.monotonic()))
                    if await self._replay(plan, item, summary):
                        next_start = time.monotonic() + 1 / self.rate_per_s
                summary.processed += 1
                progress(summary)
        return summary

    async def _select(
        self, topics: Sequence[GroupTopics], selection: Selection, summary: Summary
    ) -> AsyncIterator[Plan]:
        # The selected dead letters of every provider's DLQ, in topic and offset order, as they are read.
        found: set[str] = set()
        for provider_topics in topics:
            async for record in self.read(provider_topics.dlq_topic):
                summary.read += 1
                event_id = header(record, HEADER_ID) or (record.key.decode(errors="replace") if record.key else None)
                if selection.matches(event_id, record.timestamp, failed_handlers(record)):
                    summary.selected += 1
                    found.add(event_id or "")
                    yield Plan(record, provider_topics, event_id)
        summary.missing = sorted(selection.ids - found)

    def _decode(self, plan: Plan, summary: Summary) -> Decoded | None:
        # The dead letter's event, for its next attempt; None for an invalid one, counted and reported.
        item = decode(plan.record, plan.topics, self.group, attempt_of(plan.record) + 1, self.runner.registry)
        if isinstance(item, Invalid):
            summary.invalid += 1
            self.out(f"invalid   {_where(plan)}: {item.reason}")
            return None
        return item

    async def _replay(self, plan: Plan, item: Decoded, summary: Summary) -> bool:
        # Whether the handler ran.
        key = item.claim_key
        # A forced run takes a `done` key over; should it fail, the key is marked done again, not freed.
        was_done = self.force and await self._is_done(key)
        [claim] = await _redis(lambda: self.store.claim([key], self.token, self.lease_ms, force=self.force))
        if claim is Claim.DONE:
            summary.duplicates += 1
            return False
        if claim is Claim.HELD:
            summary.busy += 1
            self.out(f"busy      {_where(plan)}: a worker holds it now; replay it later")
            return False
        event = item.event
        handlers = self.runner.registry.handlers_for(event.provider, event.type)
        handled = await _redis(lambda: self.store.handled([key]))
        pending = tuple(handler for handler in handlers if handler.name not in handled[0])
        run = asyncio.create_task(self._run(event, pending, key, item.attempt))
        renewing = asyncio.create_task(self._renew(key, run))
        try:
            error = await run
        except asyncio.CancelledError:
            if renewing.done():  # the claim was lost: another member has the event now
                summary.busy += 1
                self.out(f"busy      {_where(plan)}: the claim was lost while it ran; a worker has it now")
                return True
            raise
        finally:
            renewing.cancel()
        if error is None:
            await _redis(lambda: self.store.complete([key], self.token))
            summary.handled += 1
            return True
        if was_done:
            await _redis(lambda: self.store.complete([key], self.token))
        else:
            await _redis(lambda: self.store.release([key], self.token))
        summary.failed += 1
        self.out(f"failed    {_where(plan)}: {type(error).__name__}: {str(error)[:200]}")
        return True

    async def _run(
        self, event: Event[Any], pending: tuple[Handler, ...], key: str, attempt: int
    ) -> BaseException | None:
        # The handlers that have not succeeded for the event yet, as the worker runs them; the first error.
        async def mark(handler: Handler) -> None:
            await _redis(lambda: self.store.mark([(key, handler.name)]))

        runs = await self.runner.run(event, pending, attempt=attempt, succeeded=mark if len(pending) > 1 else None)
        return next(iter(runs.failed.values()), None)

    async def _is_done(self, key: str) -> bool:
        [done] = await _redis(lambda: self.store.is_done([key]))
        return done

    async def _renew(self, key: str, run: asyncio.Task[BaseException | None]) -> None:
        # Renews the claim a third of a lease apart while the handler runs; stops the handler once it is lost.
        began = time.monotonic()
        while True:
            began = await next_renewal(began, self.lease_ms)
            try:
                [ours] = await self.store.renew([key], self.token, self.lease_ms)
            except StoreUnavailable as exc:
                log.warning("could not renew the claim of %s: %s", key, exc)
                continue
            if not ours:
                log.warning("the claim of %s was lost while its handler ran (away longer than the lease?)", key)
                run.cancel()
                return


async def _redis(call: Callable[[], Awaitable[T]]) -> T:
    # A replay waits out Redis refusing or missing a call, as the worker does, rather than stop half-way.
    return await until_available(call, backoff_s=OUTAGE_BACKOFF_S)


def _where(plan: Plan) -> str:
    record = plan.record
    when = datetime.fromtimestamp(record.timestamp / 1000, UTC).isoformat(timespec="seconds")
    return f"{plan.event_id} ({record.topic}[{record.partition}]@{record.offset}, dead-lettered {when})"


def _cause(record: TimedRecord) -> str:
    failed = failed_handlers(record)
    by = f" (failed: {', '.join(failed)})" if failed else ""
    return f"{header(record, HEADER_ERROR_CLASS)}: {header(record, HEADER_ERROR_MESSAGE)}{by}"


def failed_handlers(record: TimedRecord) -> list[str]:
    """The handlers a dead letter names as failed (none on a record from before the header, or an invalid one)."""
    names = header(record, HEADER_FAILED_HANDLERS)
    return names.split(",") if names else []
