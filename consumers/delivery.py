"""One record from claim to outcome: the delivery protocol of docs/contract.md, "Consumers: delivery and idempotency".

1. An invalid record goes to the DLQ with the reason (no retry, no claim).
2. Claim the event id: `DONE` is a duplicate; `HELD` (another member, or another record of this worker, is
   on it) is asked again until it is claimed or done, never skipped.
3. Run the handlers (bounded concurrency, timeout). Success: mark `done`. Failure: release the claim, then
   send the record to the retry topic with backoff, or after the last attempt to the DLQ, and wait for
   Kafka's ack before the record counts as dealt with.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable

from consumers.claims import ClaimBatcher
from consumers.decoding import Decoded, Invalid
from consumers.errors import RecordTooLarge, until_available
from consumers.idempotency import Claim
from consumers.kafka import KafkaClient
from consumers.metrics import ConsumerMetrics, Outcome
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
        runner: runs the handlers.
        kafka: sends retry and dead-letter records.
        metrics: counts outcomes.
        group: the consumer group, a metrics label.
        max_attempts: attempts before an event is dead-lettered (`CONSUMER_MAX_ATTEMPTS`).
        retry_backoff_ms: the first retry's backoff, doubled per attempt (`CONSUMER_RETRY_BACKOFF_MS`).
        concurrency: handler runs at once (`CONSUMER_CONCURRENCY`).
    """

    def __init__(
        self,
        claims: ClaimBatcher,
        runner: HandlerRunner,
        kafka: KafkaClient,
        metrics: ConsumerMetrics,
        *,
        group: str,
        max_attempts: int,
        retry_backoff_ms: int,
        concurrency: int,
    ) -> None:
        self._group = group
        self._claims = claims
        self._runner = runner
        self._kafka = kafka
        self._metrics = metrics
        self._max_attempts = max_attempts
        self._retry_backoff_ms = retry_backoff_ms
        self._slots = asyncio.Semaphore(concurrency)

    async def deliver(self, item: Decoded | Invalid, *, revoked: Callable[[], bool]) -> Outcome | None:
        """Handle one record; its outcome (counted), or None when `revoked()` turned true first (it was dropped
        unresolved: the next owner of its partition reads it again)."""
        started = time.perf_counter()
        try:
            outcome = await self._deliver(item, revoked)
        except Exception as exc:
            outcome = await self._salvage(item, exc)
        if outcome is not None:
            self._metrics.outcome(item.topics.provider, self._group, outcome)
            if events_log.isEnabledFor(logging.INFO):
                self._log(item, outcome, time.perf_counter() - started)
        return outcome

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

    async def _deliver(self, item: Decoded | Invalid, revoked: Callable[[], bool]) -> Outcome | None:
        if isinstance(item, Invalid):
            return await self._send_failure(item, item.reason, Outcome.INVALID)
        while True:
            if revoked():
                return None
            claim = await self._claims.claim(item.claim_key)
            if claim is Claim.DONE:
                return Outcome.DUPLICATE
            if claim is Claim.HELD:
                await asyncio.sleep(HELD_POLL_S)
                continue
            try:
                async with self._slots:
                    if revoked():
                        await self._claims.release(item.claim_key)
                        return None
                    error = await self._runner.run(item.event, item.topics.provider)
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
        if error is None:
            if not await self._claims.complete(item.claim_key):
                log.warning("event %s: another member claimed it before it was marked done", item.claim_key)
            return Outcome.OK
        # Released first, so that the retry, wherever it is read, can claim the event.
        await self._claims.release(item.claim_key)
        outcome = failure_outcome(error, item.attempt, self._max_attempts)
        return await self._send_failure(item, error, outcome)

    async def _send_failure(self, item: Decoded | Invalid, error: BaseException, outcome: Outcome) -> Outcome:
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
        out = failure_record(record, item.topics, outcome, error, item.attempt, now_ms=now_ms(), delay_ms=delay)
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
        bare = valueless_dead_letter(record, item.topics, error, item.attempt)
        try:
            await until_available(lambda: self._kafka.send_all([bare]), backoff_s=BROKER_BACKOFF_S)
        except RecordTooLarge:
            log.error(
                "event at %s[%d]@%d: not even its headers fit the DLQ", record.topic, record.partition, record.offset
            )
        return Outcome.INVALID if outcome is Outcome.INVALID else Outcome.DEAD_LETTERED


def _uncancel() -> int:
    # Takes back one cancellation of the current task (a fence, not a stop); the cancellations left.
    task = asyncio.current_task()
    assert task is not None
    return task.uncancel()
