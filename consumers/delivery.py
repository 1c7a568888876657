"""One record from claim to outcome: the delivery protocol of docs/contract.md, "Consumers: delivery and idempotency".

1. An invalid record goes to the DLQ with the reason (no retry, no claim).
2. Claim the event id: `DONE` is a duplicate; `HELD` (another member, or another record of this worker, is
   on it) is asked again until it is claimed or done, never skipped.
3. Run the handlers that have not succeeded for the event yet, side by side (each within its limits and
   timeout); while another may still fail, a handler's success is marked before the event moves on. All
   succeeded: mark `done`. A failure: release the claim, then send the record to the retry topic with
   backoff, or once a failed handler has no attempt left to the DLQ, and wait for Kafka's ack before the
   record counts as dealt with.

`deliver` takes one record through these steps; `deliver_all` a batch of records of distinct events, with one
claim call for all, its handlers run by a few tasks rather than one per record, and their `done` marks sent
together; any record of it that needs more than that (held elsewhere, failed, a claim lost) goes on alone.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable, Iterator, Sequence
from dataclasses import dataclass, field
from functools import partial
from typing import Any

from consumers.claims import ClaimBatcher
from consumers.decoding import Decoded, Invalid
from consumers.errors import RecordTooLarge, RetryLater, until_available
from consumers.idempotency import Claim
from consumers.kafka import RecordSink
from consumers.metrics import ConsumerMetrics, Counts, Outcome, add_counts
from consumers.registry import Handler
from consumers.retries import backoff_ms, failure_outcome, failure_record, now_ms, valueless_dead_letter
from consumers.runner import HandlerRunner

log = logging.getLogger(__name__)
# The per-event line, a logger of its own so it can be turned down alone (`consumers.events`).
events_log = logging.getLogger("consumers.events")

# How often an event held by another claim is asked for again, in seconds.
HELD_POLL_S = 0.2
# Backoff while Kafka does not take a retry or dead-letter record, in seconds: doubles from the first to the cap.
BROKER_BACKOFF_S = (0.1, 5.0)
# How long releasing the claim of a cancelled handler may take, in seconds (else the claim expires).
RELEASE_TIMEOUT_S = 2.0


class Delivery:
    """Delivers decoded records to the handlers, one call per record.

    Args:
        claims: this worker's claims.
        runner: runs the handlers, within their limits and attempts.
        kafka: where retry and dead-letter records go.
        metrics: counts outcomes.
        group: the consumer group, a metrics label.
        retry_backoff_ms: the first retry's backoff, doubled per attempt (`CONSUMER_RETRY_BACKOFF_MS`).
    """

    def __init__(
        self,
        claims: ClaimBatcher,
        runner: HandlerRunner,
        kafka: RecordSink,
        metrics: ConsumerMetrics,
        *,
        group: str,
        retry_backoff_ms: int,
    ) -> None:
        self._group = group
        self._claims = claims
        self.runner = runner
        self._kafka = kafka
        self._metrics = metrics
        self._retry_backoff_ms = retry_backoff_ms
        self._batchable: dict[tuple[str, str], bool] = {}

    async def deliver(self, item: Decoded | Invalid, *, revoked: Callable[[], bool]) -> Outcome | None:
        """Handle one record; its outcome (counted per handler), or None when `revoked()` turned true first (it was
        dropped unresolved: the next owner of its partition reads it again)."""
        started = time.perf_counter()
        tally: dict[str, Outcome] = {}
        outcome = await self._settled(item, self._deliver(item, revoked, tally), tally)
        self._count(item, outcome, tally, started)
        return outcome

    def batchable(self, item: Decoded | Invalid) -> bool:
        """Whether a record may be delivered in a batch (`deliver_all`): a valid event none of whose handlers has a
        limit of its own (a run waiting for its handler's limit there would hold up the batch's other records)."""
        if not isinstance(item, Decoded):
            return False
        event = item.event
        found = self._batchable.get((event.provider, event.type))
        if found is None:
            handlers = self.runner.registry.handlers_for(event.provider, event.type)
            found = all(handler.concurrency is None and handler.rate is None for handler in handlers)
            self._batchable[(event.provider, event.type)] = found
        return found

    async def deliver_all(
        self, items: Sequence[Decoded], *, revoked: Callable[[], bool], resolved: Callable[[Decoded], None]
    ) -> None:
        """Handle a batch of records of distinct events, as `deliver` does each, without a task per record: one claim
        call for all, the handlers run by at most `CONSUMER_CONCURRENCY` tasks, the `done` marks batched per loop
        tick like every claims call. A record that needs more (held elsewhere, failed, a claim lost) goes the way
        of `deliver`. `resolved(item)` is called as each record is dealt with (counted per handler); a record
        dropped unresolved (`revoked()` turned true first) never is: the next owner of its partition reads it."""
        if revoked():
            return
        batch = _Batch(revoked, resolved)
        try:
            claims = await self._claims.claim_all([item.claim_key for item in items])
        except Exception:
            # No Redis answer (those are waited out) but a bug: each record asks again alone, and is dealt with.
            log.exception("claiming a batch of %d events failed", len(items))
            claims = [Claim.HELD] * len(items)
        todo = []
        counts = Counts()
        for item, claim in zip(items, claims, strict=True):
            if claim is Claim.DONE:
                tally: dict[str, Outcome] = {}
                self._resolve(batch, item, self._duplicate(item, tally), tally, counts)
            else:
                todo.append((item, claim is Claim.CLAIMED))
        add_counts(counts)
        try:
            if todo:
                queue = iter(todo)
                workers = min(len(todo), self.runner.concurrency)
                await asyncio.gather(*(self._work(batch, queue) for _ in range(workers)))
            self._send_marks(batch)
            for succeeded, marked in batch.marking:
                await self._marked(batch, succeeded, marked)
        except asyncio.CancelledError:
            # Past the grace of a shutdown or a revocation: the claims of the records not handled are released for
            # whoever reads them next (the `done` marks on their way still land).
            marked_keys = {item.claim_key for succeeded, _ in batch.marking for item, _ in succeeded}
            keys = [item.claim_key for item in items if item.claim_key in self._claims.held]
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(RELEASE_TIMEOUT_S):
                    await self._claims.release_now([key for key in keys if key not in marked_keys])
            raise

    async def _work(self, batch: _Batch, queue: Iterator[tuple[Decoded, bool]]) -> None:
        # One of `deliver_all`'s tasks: takes the batch's records one after the other. A record claimed for it runs
        # as claimed (unless the claim was lost meanwhile); its `done` mark goes out with those of the other records
        # that succeed in the same loop tick, without waiting, and the record is resolved once the mark has landed.
        # Looked up once, not per record: `asyncio.current_task()` makes a system call (`getpid`) every time.
        task = asyncio.current_task()
        for item, claimed in queue:
            tally: dict[str, Outcome] = {}
            claimed = claimed and self._claims.own(item.claim_key, task)
            delivering = self._deliver(item, batch.revoked, tally, claimed=claimed, mark_done=False, task=task)
            outcome = await self._settled(item, delivering, tally)
            if outcome is Outcome.OK:
                batch.succeeded.append((item, tally))
                if len(batch.succeeded) == 1:
                    asyncio.get_running_loop().call_soon(self._send_marks, batch)
            elif outcome is not None:
                self._resolve(batch, item, outcome, tally)

    def _send_marks(self, batch: _Batch) -> None:
        # The `done` marks of the records that succeeded since the last call: one future for them all.
        if not batch.succeeded:
            return
        succeeded, batch.succeeded = batch.succeeded, []
        marked = self._claims.complete_soon([item.claim_key for item, _ in succeeded])
        batch.marking.append((succeeded, marked))
        marked.add_done_callback(partial(self._on_marked, batch, succeeded))

    def _on_marked(self, batch: _Batch, succeeded: _Succeeded, marked: asyncio.Future[list[object]]) -> None:
        if marked.cancelled() or marked.exception() is not None:
            return  # the worker is closing (left unresolved), or a bug: `_marked` deals with the records
        counts = Counts()
        for (item, tally), done in zip(succeeded, marked.result(), strict=True):
            if not done:
                log.warning("event %s: another member claimed it before it was marked done", item.claim_key)
            self._resolve(batch, item, Outcome.OK, tally, counts)
        add_counts(counts)

    async def _marked(self, batch: _Batch, succeeded: _Succeeded, marked: asyncio.Future[list[object]]) -> None:
        try:
            await marked
        except Exception as exc:
            # Not a Redis outage (those are waited out) but a bug: each record is dealt with as `deliver` would.
            for item, _ in succeeded:
                self._resolve(batch, item, await self._salvage(item, exc), {})

    def _resolve(
        self, batch: _Batch, item: Decoded, outcome: Outcome, tally: dict[str, Outcome], counts: Counts | None = None
    ) -> None:
        self._count(item, outcome, tally, batch.started, counts)
        batch.resolved(item)

    async def _settled(
        self, item: Decoded | Invalid, delivering: Awaitable[Outcome | None], tally: dict[str, Outcome]
    ) -> Outcome | None:
        # `delivering` is `_deliver` of the item; an exception out of it is a bug of ours, and the record salvaged.
        try:
            return await delivering
        except Exception as exc:
            tally.clear()
            return await self._salvage(item, exc)

    def _count(
        self,
        item: Decoded | Invalid,
        outcome: Outcome | None,
        tally: dict[str, Outcome],
        started: float,
        counts: Counts | None = None,
    ) -> None:
        # `counts`: where a caller resolving many records at once gathers their counts, to add them up once each.
        if outcome is None:
            return
        provider = item.topics.provider
        adding = counts if counts is not None else Counts()
        for handler, handled in tally.items() or [("", outcome)]:
            adding[self._metrics.processed_of(provider, self._group, handled.value, handler)] += 1
        if outcome is Outcome.DUPLICATE:
            adding[self._metrics.duplicates_of(provider, self._group)] += 1
        if counts is None:
            add_counts(adding)
        if events_log.isEnabledFor(logging.INFO):
            self._log(item, outcome, time.perf_counter() - started)

    def _duplicate(self, item: Decoded, tally: dict[str, Outcome]) -> Outcome:
        event = item.event
        tally.update(
            (handler.name, Outcome.DUPLICATE)
            for handler in self.runner.registry.handlers_for(event.provider, event.type)
        )
        return Outcome.DUPLICATE

    async def _salvage(self, item: Decoded | Invalid, exc: Exception) -> Outcome:
        # A bug of ours, not the handler's (those come back as errors): the record must still be resolved, or its
        # partition's commit stops here for ever. The DLQ keeps it for a replay once the bug is fixed.
        record = item.record
        log.error(
            "event at %s[%d]@%d could not be processed (%s): dead-lettering it",
            record.topic,
            record.partition,
            record.offset,
            type(exc).__name__,
            exc_info=exc,
        )
        if isinstance(item, Decoded) and item.claim_key in self._claims.held:
            await self._claims.release_now([item.claim_key])
        return await self._send_failure(item, exc, Outcome.DEAD_LETTERED)

    def _log(self, item: Decoded | Invalid, outcome: Outcome, elapsed_s: float) -> None:
        # One line per processed record: which event, what became of it; never the payload.
        event = item.event if isinstance(item, Decoded) else None
        key = item.record.key
        events_log.info(
            "event %s",
            outcome.value,
            extra={
                "event_id": event.id if event is not None else (key.decode("utf-8", "replace") if key else None),
                "provider": item.topics.provider,
                "group": self._group,
                "type": event.type if event is not None else None,
                "outcome": outcome.value,
                "attempt": item.attempt,
                "duration_ms": round(elapsed_s * 1000, 3),
            },
        )

    async def _deliver(
        self,
        item: Decoded | Invalid,
        revoked: Callable[[], bool],
        tally: dict[str, Outcome],
        *,
        claimed: bool = False,
        mark_done: bool = True,
        task: asyncio.Task[Any] | None = None,
    ) -> Outcome | None:
        # `claimed`: the caller holds the claim already. Without `mark_done`, OK is the caller's to mark `done`.
        # `task`: the current task, if the caller has it (`HandlerRunner.run`).
        if isinstance(item, Invalid):
            return await self._send_failure(item, item.reason, Outcome.INVALID)
        event = item.event
        handlers = self.runner.registry.handlers_for(event.provider, event.type)
        while True:
            if revoked():
                if claimed:
                    await self._claims.release(item.claim_key)
                return None
            if not claimed:
                claim = await self._claims.claim(item.claim_key)
                if claim is Claim.DONE:
                    return self._duplicate(item, tally)
                if claim is Claim.HELD:
                    await asyncio.sleep(HELD_POLL_S)
                    continue
            claimed = False
            try:
                pending = handlers if len(handlers) < 2 else await self._pending(item.claim_key, handlers)
                # A success is marked before the event moves on only while another handler of it may still fail:
                # the last one's success is the event's `done`.
                mark = partial(self._mark, item.claim_key) if len(pending) > 1 else None
                runs = await self.runner.run(
                    event, pending, attempt=item.attempt, gone=revoked, succeeded=mark, task=task
                )
                break
            except asyncio.CancelledError:
                if self._claims.lost(item.claim_key) and _uncancel() == 0:
                    # Fenced: another member holds the event now. Ask again until it is done (a duplicate here).
                    log.warning(
                        "event %s: the claim was lost while it was handled; the handler was stopped", item.claim_key
                    )
                    continue
                # Cancelled past the grace of a shutdown or a revocation: whoever reads the record next may claim it.
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(RELEASE_TIMEOUT_S):
                        await self._claims.release_now([item.claim_key])
                raise
        tally.update((handler.name, Outcome.OK) for handler in runs.succeeded)
        if runs.unstarted:
            await self._claims.release(item.claim_key)
            return None
        if not runs.failed:
            if mark_done and not await self._claims.complete(item.claim_key):
                log.warning("event %s: another member claimed it before it was marked done", item.claim_key)
            return Outcome.OK
        # Released first, so that the retry, wherever it is read, can claim the event.
        await self._claims.release(item.claim_key)
        outcome, error = self._failure(runs.failed, item.attempt)
        failed = [handler.name for handler in pending if handler in runs.failed]
        outcome = await self._send_failure(item, error, outcome, failed)
        tally.update((handler.name, outcome) for handler in runs.failed)
        return outcome

    async def _pending(self, claim_key: str, handlers: tuple[Handler, ...]) -> tuple[Handler, ...]:
        # The handlers of the event that have not succeeded for it yet (an earlier attempt may have run some).
        handled = await self._claims.handled(claim_key)
        return tuple(handler for handler in handlers if handler.name not in handled)

    async def _mark(self, claim_key: str, handler: Handler) -> None:
        await self._claims.mark(claim_key, handler.name)

    def _failure(self, failed: dict[Handler, BaseException], attempt: int) -> tuple[Outcome, BaseException]:
        # The event goes to the DLQ as soon as one failed handler can't be tried again (a replay runs the handlers
        # that have not succeeded); else it is retried after the longest delay a handler asked for.
        outcomes = {
            handler: failure_outcome(error, attempt, self.runner.max_attempts(handler))
            for handler, error in failed.items()
        }
        dead = [failed[handler] for handler, outcome in outcomes.items() if outcome is Outcome.DEAD_LETTERED]
        if dead:
            return Outcome.DEAD_LETTERED, dead[0]
        errors = list(failed.values())
        return Outcome.RETRIED, max(errors, key=lambda e: e.delay_s if isinstance(e, RetryLater) else -1.0)

    async def _send_failure(
        self, item: Decoded | Invalid, error: BaseException, outcome: Outcome, handlers: Sequence[str] = ()
    ) -> Outcome:
        # The outcome as it turned out: a retry Kafka refuses for its size can only be a dead letter.
        record = item.record
        if outcome is not Outcome.RETRIED:
            log.warning(
                "event at %s[%d]@%d dead-lettered after attempt %d: %s",
                record.topic,
                record.partition,
                record.offset,
                item.attempt,
                type(error).__name__,
            )
        delay = backoff_ms(error, item.attempt, self._retry_backoff_ms)
        out = failure_record(
            record, item.topics, outcome, error, item.attempt, now_ms=now_ms(), delay_ms=delay, handlers=handlers
        )
        try:
            await until_available(lambda: self._kafka.send_all([out]), backoff_s=BROKER_BACKOFF_S)
            return outcome
        except RecordTooLarge:
            pass
        # Sending it again can't help, and holding it would stop its partition for good.
        log.error(
            "event at %s[%d]@%d: Kafka refuses its %d-byte record for %s; dead-lettered without its value (the "
            "event stays at its original offset until the topic's retention; raise max.message.bytes)",
            record.topic,
            record.partition,
            record.offset,
            len(record.value or b""),
            out.topic,
        )
        bare = valueless_dead_letter(record, item.topics, error, item.attempt, handlers)
        try:
            await until_available(lambda: self._kafka.send_all([bare]), backoff_s=BROKER_BACKOFF_S)
        except RecordTooLarge:
            log.error(
                "event at %s[%d]@%d: not even its headers fit the DLQ", record.topic, record.partition, record.offset
            )
        return Outcome.INVALID if outcome is Outcome.INVALID else Outcome.DEAD_LETTERED


# Records that succeeded, each with its outcome per handler.
_Succeeded = list[tuple[Decoded, dict[str, Outcome]]]


@dataclass(slots=True)
class _Batch:
    """A batch being delivered (`Delivery.deliver_all`), and the `done` marks of its records on their way."""

    revoked: Callable[[], bool]
    resolved: Callable[[Decoded], None]
    started: float = field(default_factory=time.perf_counter)
    # Records that succeeded, their `done` marks not sent yet; those sent, and the future of their answers.
    succeeded: _Succeeded = field(default_factory=list)
    marking: list[tuple[_Succeeded, asyncio.Future[list[object]]]] = field(default_factory=list)


def _uncancel() -> int:
    # Takes back one cancellation of the current task (a fence, not a stop); the cancellations left.
    task = asyncio.current_task()
    assert task is not None
    return task.uncancel()
