"""Retry or dead letter for a failed event, and the record that carries it there.

`failure_outcome` is the one place an error becomes a retry or a dead letter; `failure_record` builds the
record that carries the event there (same key and value; its headers from `schemas.records.failure_headers`:
the event's own, the retry headers of `schemas.topics`, and the CloudEvents headers from its envelope where
the record lacks them, so every record we write carries them).
"""

from __future__ import annotations

import math
import random
import time
from collections.abc import Sequence

from consumers.errors import ConsumerError, RetryLater
from consumers.kafka import OutRecord, Record
from consumers.metrics import Outcome
from schemas.envelope import Envelope
from schemas.records import failure_headers
from schemas.topics import GroupTopics

# The exponential backoff stops growing here (1 hour), however many attempts are configured.
MAX_BACKOFF_MS = 3_600_000
# The longest wait a handler's `RetryLater` gets (1 hour). A retry partition is read in order, so one record
# due in a day would hold back every retry behind it for that day; and a wait past the retry topic's
# retention would lose the event.
MAX_RETRY_DELAY_MS = 3_600_000


def failure_outcome(error: BaseException, attempt: int, max_attempts: int) -> Outcome:
    """Retry or dead letter: `RETRIED` for a retriable error with attempts left, else `DEAD_LETTERED`.

    Any exception that is no `ConsumerError` (a handler's own) counts as retriable.
    """
    retriable = error.retriable if isinstance(error, ConsumerError) else True
    return Outcome.RETRIED if retriable and attempt < max_attempts else Outcome.DEAD_LETTERED


def backoff_ms(error: BaseException, attempt: int, base_ms: int) -> int:
    """The wait before the next attempt: `RetryLater.delay_s` (at most `MAX_RETRY_DELAY_MS`), or
    `base * 2^(attempt-1)` with jitter.

    The jitter picks uniformly between half and all of the exponential delay, so that events that failed
    together (a downstream outage) don't all come back at once.
    """
    if isinstance(error, RetryLater) and not math.isnan(error.delay_s):
        return round(min(max(0.0, error.delay_s * 1000), MAX_RETRY_DELAY_MS))
    delay: int = min(base_ms * 2 ** min(attempt - 1, 32), MAX_BACKOFF_MS)
    return round(delay * random.uniform(0.5, 1.0))  # noqa: S311 - jitter, not a secret


def failure_record(
    record: Record,
    topics: GroupTopics,
    outcome: Outcome,
    error: BaseException,
    attempt: int,
    *,
    now_ms: int,
    delay_ms: int,
    envelope: Envelope | None = None,
    handlers: Sequence[str] = (),
) -> OutRecord:
    """The record that carries a failed event to the retry topic (`RETRIED`) or the DLQ (otherwise).

    Args:
        attempt: the attempt that just failed; the retry record carries `attempt + 1`, the dead letter
            `attempt` (how many were made).
        delay_ms: for a retry, the wait before the next attempt (`HEADER_NOT_BEFORE` is now + delay).
        envelope: the record's envelope, where it has a valid one: fills in the headers it lacks.
        handlers: the names of the handlers that failed this attempt; none where no handler ran.
    """
    retry = outcome is Outcome.RETRIED
    headers = failure_headers(
        record.headers,
        (record.topic, record.partition, record.offset),
        attempt + 1 if retry else attempt,
        error,
        not_before_ms=now_ms + delay_ms if retry else None,
        envelope=envelope,
        handlers=handlers,
    )
    topic = topics.retry_topic if retry else topics.dlq_topic
    return OutRecord(topic, record.key, record.value, headers)


def valueless_dead_letter(
    record: Record, topics: GroupTopics, error: BaseException, attempt: int, handlers: Sequence[str] = ()
) -> OutRecord:
    """A dead letter without the event's value, for a failed event Kafka refuses to take again for its size:
    its headers say why and where the event still is (`HEADER_ORIGINAL_*`, until the topic's retention)."""
    origin = (record.topic, record.partition, record.offset)
    note = f"too large for Kafka ({len(record.value or b'')} bytes), dead-lettered without its value: {error}"
    headers = failure_headers(record.headers, origin, attempt, error, message=note, handlers=handlers)
    return OutRecord(topics.dlq_topic, record.key, None, headers)


def now_ms() -> int:
    """Wall-clock time in epoch milliseconds, the unit of `HEADER_NOT_BEFORE`."""
    return time.time_ns() // 1_000_000
