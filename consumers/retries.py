"""Retry or dead letter for a failed event, and the record that carries it there.

`failure_outcome` is the one place an error becomes a retry or a dead letter; `failure_record` builds the
record that carries the event there (same key, value and headers, plus the retry headers of
`schemas.topics`; a record without the CloudEvents headers gets them from its envelope, by
`schemas.records`, so every record we write carries them).
"""

from __future__ import annotations

import math
import random
import time

from consumers.errors import ConsumerError, RetryLater
from consumers.kafka import OutRecord, Record
from consumers.metrics import Outcome
from schemas.envelope import Envelope
from schemas.records import missing_headers
from schemas.topics import (
    HEADER_ATTEMPT,
    HEADER_ERROR_CLASS,
    HEADER_ERROR_MESSAGE,
    HEADER_NOT_BEFORE,
    HEADER_ORIGINAL_OFFSET,
    HEADER_ORIGINAL_PARTITION,
    HEADER_ORIGINAL_TOPIC,
    GroupTopics,
)

# Header values stay small and never carry payload data: an error message is cut to this many characters.
MAX_ERROR_MESSAGE_CHARS = 300
# The exponential backoff stops growing here (1 hour), however many attempts are configured.
MAX_BACKOFF_MS = 3_600_000
# The longest wait a handler's `RetryLater` gets (1 hour). A retry partition is read in order, so one record
# due in a day would hold back every retry behind it for that day; and a wait past the retry topic's
# retention would lose the event.
MAX_RETRY_DELAY_MS = 3_600_000

# Headers this module writes; replaced (not repeated) when a retried record fails again.
_RETRY_HEADERS = frozenset({HEADER_ATTEMPT, HEADER_NOT_BEFORE, HEADER_ERROR_CLASS, HEADER_ERROR_MESSAGE})
_ORIGIN_HEADERS = frozenset({HEADER_ORIGINAL_TOPIC, HEADER_ORIGINAL_PARTITION, HEADER_ORIGINAL_OFFSET})


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
) -> OutRecord:
    """The record that carries a failed event to the retry topic (`RETRIED`) or the DLQ (otherwise).

    Args:
        attempt: the attempt that just failed; the retry record carries `attempt + 1`, the dead letter
            `attempt` (how many were made).
        delay_ms: for a retry, the wait before the next attempt (`HEADER_NOT_BEFORE` is now + delay).
        envelope: the record's envelope, where it has a valid one: fills in the headers it lacks.
    """
    retry = outcome is Outcome.RETRIED
    headers = [(k, v) for k, v in record.headers if k not in _RETRY_HEADERS]
    if envelope is not None:
        headers += missing_headers(headers, envelope)
    if not any(k in _ORIGIN_HEADERS for k, _ in headers):
        headers += [
            (HEADER_ORIGINAL_TOPIC, record.topic.encode()),
            (HEADER_ORIGINAL_PARTITION, str(record.partition).encode()),
            (HEADER_ORIGINAL_OFFSET, str(record.offset).encode()),
        ]
    headers += [
        (HEADER_ATTEMPT, str(attempt + 1 if retry else attempt).encode()),
        (HEADER_ERROR_CLASS, _utf8(type(error).__name__)),
        (HEADER_ERROR_MESSAGE, _utf8(str(error)[:MAX_ERROR_MESSAGE_CHARS])),
    ]
    if retry:
        headers.append((HEADER_NOT_BEFORE, str(now_ms + delay_ms).encode()))
    topic = topics.retry_topic if retry else topics.dlq_topic
    return OutRecord(topic, record.key, record.value, headers)


def valueless_dead_letter(record: Record, topics: GroupTopics, error: BaseException, attempt: int) -> OutRecord:
    """A dead letter without the event's value, for a failed event Kafka refuses to take again for its size:
    its headers say why and where the event still is (`HEADER_ORIGINAL_*`, until the topic's retention)."""
    out = failure_record(record, topics, Outcome.DEAD_LETTERED, error, attempt, now_ms=0, delay_ms=0)
    size = len(record.value or b"")
    note = f"too large for Kafka ({size} bytes), dead-lettered without its value: {error}"
    headers = [
        (name, _utf8(note[:MAX_ERROR_MESSAGE_CHARS]) if name == HEADER_ERROR_MESSAGE else value)
        for name, value in out.headers
    ]
    return OutRecord(out.topic, out.key, None, headers)


def _utf8(text: str) -> bytes:
    # An exception's text may hold lone surrogates (decoded with surrogateescape): a header is UTF-8 all the same.
    return text.encode("utf-8", "replace")


def now_ms() -> int:
    """Wall-clock time in epoch milliseconds, the unit of `HEADER_NOT_BEFORE`."""
    return time.time_ns() // 1_000_000
