"""Replay: run dead-lettered events through the group's handlers again, once the cause is fixed.

`python -m consumers replay` reads a group's DLQ topics from the beginning to their end (without a consumer
group: the DLQ is read, never consumed or changed), keeps the records the operator selected (all, by event
id, by the time they were dead-lettered) and runs each through the same claim protocol and handlers as the
worker, at a bounded rate. An event that is `done` already is a duplicate and is not run again, unless
`force` (an event done by mistake); an event another member holds a live claim on is left to it (`busy`).
A replay that fails leaves the record where it is: nothing is written to any topic.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from consumers.decoding import attempt_of, decode
from consumers.idempotency import Claim, IdempotencyStore
from consumers.kafka import TimedRecord
from consumers.routing import Route, header
from consumers.runner import HandlerRunner
from schemas.topics import HEADER_ERROR_CLASS, HEADER_ERROR_MESSAGE, HEADER_ID

log = logging.getLogger(__name__)

# Reads a topic from its beginning to its end as of the call (`consumers.kafka.read_to_end`).
Reader = Callable[[str], AsyncIterator[TimedRecord]]


@dataclass(frozen=True, slots=True)
class Selection:
    """Which dead letters to replay: all of them, or those with one of `ids`, dead-lettered within the window."""

    ids: frozenset[str] = frozenset()
    since: datetime | None = None
    until: datetime | None = None

    def matches(self, event_id: str | None, dead_lettered_ms: int) -> bool:
        """Whether a dead letter of this event id, written at this time, is selected."""
        if self.ids and event_id not in self.ids:
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
    route: Route
    event_id: str | None


class Replayer:
    """Replays a group's dead letters.

    Args:
        group: the consumer group whose DLQ and claims are used.
        store: the idempotency store.
        runner: the group's handlers.
        read: reads a topic from beginning to end.
        lease_ms: the claim lease while a handler runs (`CONSUMER_LEASE_MS`).
        done_ttl_s: how long a replayed event stays `done` (`CONSUMER_DONE_TTL_S`).
        rate_per_s: the most handler runs started per second.
        force: run events that are `done` already.
        out: where the per-event lines go (a dry run's list, failures).
    """

    def __init__(
        self,
        *,
        group: str,
        store: IdempotencyStore,
        runner: HandlerRunner,
        read: Reader,
        lease_ms: int,
        done_ttl_s: int,
        rate_per_s: float,
        force: bool = False,
        out: Callable[[str], None] = print,
    ) -> None:
        self._group = group
        self._store = store
        self._runner = runner
        self._read = read
        self._lease_ms = lease_ms
        self._done_ttl_s = done_ttl_s
        self._interval_s = 1 / rate_per_s
        self._force = force
        self._out = out
        self._token = f"replay-{time.time_ns():x}"

    async def select(self, routes: list[Route], selection: Selection, summary: Summary) -> list[Plan]:
        """The selected dead letters of every route's DLQ, in topic and offset order."""
        plans: list[Plan] = []
        found: set[str] = set()
        for route in routes:
            async for record in self._read(route.dlq_topic):
                summary.read += 1
                event_id = header(record, HEADER_ID) or (record.key.decode(errors="replace") if record.key else None)
                if selection.matches(event_id, record.timestamp):
                    plans.append(Plan(record, route, event_id))
                    found.add(event_id or "")
        summary.selected = len(plans)
        summary.missing = sorted(selection.ids - found)
        return plans

    async def dry_run(self, plans: list[Plan], summary: Summary) -> None:
        """List what `run` would do, without claiming or running anything."""
        for plan in plans:
            item = decode(plan.record, plan.route, self._group, attempt_of(plan.record) + 1)
            if item.invalid is not None:
                summary.invalid += 1
                self._out(f"invalid   {_where(plan)}: {item.invalid}")
                continue
            [done] = await self._store.is_done([item.key])
            if done and not self._force:
                summary.duplicates += 1
                self._out(f"duplicate {_where(plan)}: handled already (--force runs it again)")
            else:
                summary.would_replay += 1
                self._out(f"replay    {_where(plan)}: {_cause(plan.record)}")

    async def run(self, plans: list[Plan], summary: Summary, progress: Callable[[Summary], None]) -> None:
        """Replay each selected dead letter, one at a time and at most `rate_per_s` a second."""
        next_start = time.monotonic()
        for plan in plans:
            item = decode(plan.record, plan.route, self._group, attempt_of(plan.record) + 1)
            if item.invalid is not None or item.event is None:
                summary.invalid += 1
                self._out(f"invalid   {_where(plan)}: {item.invalid}")
            else:
                [claim] = await self._store.claim([item.key], self._token, self._lease_ms, force=self._force)
                if claim is Claim.DONE:
                    summary.duplicates += 1
                elif claim is Claim.HELD:
                    summary.busy += 1
                    self._out(f"busy      {_where(plan)}: a worker holds it now; replay it later")
                else:
                    await asyncio.sleep(max(0.0, next_start - time.monotonic()))
                    next_start = time.monotonic() + self._interval_s
                    error = await self._runner.run(item.event, plan.route.provider)
                    if error is None:
                        await self._store.complete([item.key], self._token, self._done_ttl_s)
                        summary.handled += 1
                    else:
                        await self._store.release([item.key], self._token)
                        summary.failed += 1
                        self._out(f"failed    {_where(plan)}: {type(error).__name__}: {str(error)[:200]}")
            summary.processed += 1
            progress(summary)


def _where(plan: Plan) -> str:
    record = plan.record
    when = datetime.fromtimestamp(record.timestamp / 1000, UTC).isoformat(timespec="seconds")
    return f"{plan.event_id} ({record.topic}[{record.partition}]@{record.offset}, dead-lettered {when})"


def _cause(record: TimedRecord) -> str:
    return f"{header(record, HEADER_ERROR_CLASS)}: {header(record, HEADER_ERROR_MESSAGE)}"
