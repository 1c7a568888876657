"""Retry or dead letter, the backoff, and the headers of the record that carries a failed event."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest

from consumers.errors import HandlerTimeout, InvalidEvent, PermanentError, RetryLater, StoreUnavailable
from consumers.metrics import Outcome
from consumers.retries import MAX_RETRY_DELAY_MS, backoff_ms, failure_outcome, failure_record, valueless_dead_letter
from schemas.records import MAX_ERROR_MESSAGE_CHARS
from schemas.topics import (
    HEADER_ATTEMPT,
    HEADER_ERROR_CLASS,
    HEADER_ERROR_MESSAGE,
    HEADER_FAILED_HANDLERS,
    HEADER_ID,
    HEADER_NOT_BEFORE,
    HEADER_ORIGINAL_OFFSET,
    HEADER_ORIGINAL_PARTITION,
    HEADER_ORIGINAL_TOPIC,
    GroupTopics,
)


@dataclass
class FakeRecord:
    topic: str = "webhooks.stripe"
    partition: int = 3
    offset: int = 41
    key: bytes | None = b"evt_1"
    value: bytes | None = b"{}"
    headers: list[tuple[str, bytes]] = field(default_factory=lambda: [(HEADER_ID, b"evt_1")])


TOPICS = GroupTopics.for_provider("stripe", "agents")


def test_the_standard_topics() -> None:
    assert (
        GroupTopics("stripe", "webhooks.stripe", "webhooks.stripe.agents.retry", "webhooks.stripe.agents.dlq") == TOPICS
    )


@pytest.mark.parametrize(
    ("error", "attempt", "outcome"),
    [
        (RuntimeError("boom"), 1, Outcome.RETRIED),
        (RuntimeError("boom"), 4, Outcome.RETRIED),
        (RuntimeError("boom"), 5, Outcome.DEAD_LETTERED),
        (HandlerTimeout("slow"), 1, Outcome.RETRIED),
        (RetryLater(delay_s=3), 2, Outcome.RETRIED),
        (RetryLater(delay_s=3), 5, Outcome.DEAD_LETTERED),
        (PermanentError("never"), 1, Outcome.DEAD_LETTERED),
        (InvalidEvent("bad"), 1, Outcome.DEAD_LETTERED),
        (StoreUnavailable("down"), 1, Outcome.RETRIED),
    ],
)
def test_failure_outcome(error: BaseException, attempt: int, outcome: Outcome) -> None:
    assert failure_outcome(error, attempt, max_attempts=5) is outcome


def test_backoff_doubles_with_jitter_between_half_and_all() -> None:
    for attempt, full in ((1, 1000), (2, 2000), (4, 8000)):
        delays = {backoff_ms(RuntimeError(), attempt, 1000) for _ in range(50)}
        assert all(full // 2 <= delay <= full for delay in delays)
        assert len(delays) > 1


def test_backoff_is_capped_and_retry_later_picks_its_own_delay() -> None:
    assert backoff_ms(RuntimeError(), 60, 1000) <= 3_600_000
    assert backoff_ms(RetryLater(delay_s=2.5), 1, 1000) == 2500


def test_a_retry_record_keeps_key_value_and_headers_and_adds_the_retry_headers() -> None:
    record = FakeRecord()

    out = failure_record(record, TOPICS, Outcome.RETRIED, ConnectionError("agent down"), 1, now_ms=1000, delay_ms=500)

    assert (out.topic, out.key, out.value) == ("webhooks.stripe.agents.retry", b"evt_1", b"{}")
    assert dict(out.headers) == {
        HEADER_ID: b"evt_1",
        HEADER_ORIGINAL_TOPIC: b"webhooks.stripe",
        HEADER_ORIGINAL_PARTITION: b"3",
        HEADER_ORIGINAL_OFFSET: b"41",
        HEADER_ATTEMPT: b"2",
        HEADER_ERROR_CLASS: b"ConnectionError",
        HEADER_ERROR_MESSAGE: b"agent down",
        HEADER_NOT_BEFORE: b"1500",
    }


def test_a_dead_letter_of_a_retry_keeps_the_original_location_and_replaces_the_retry_headers() -> None:
    retried = failure_record(FakeRecord(), TOPICS, Outcome.RETRIED, RuntimeError("1"), 1, now_ms=0, delay_ms=1)
    record = FakeRecord(topic=TOPICS.retry_topic, partition=0, offset=7, headers=list(retried.headers))

    out = failure_record(record, TOPICS, Outcome.DEAD_LETTERED, RuntimeError("x" * 1000), 5, now_ms=0, delay_ms=0)

    headers = dict(out.headers)
    assert out.topic == "webhooks.stripe.agents.dlq"
    assert len(out.headers) == len(headers)  # no header twice
    assert headers[HEADER_ORIGINAL_TOPIC] == b"webhooks.stripe"
    assert headers[HEADER_ORIGINAL_OFFSET] == b"41"
    assert headers[HEADER_ATTEMPT] == b"5"
    assert HEADER_NOT_BEFORE not in headers
    assert len(headers[HEADER_ERROR_MESSAGE]) == MAX_ERROR_MESSAGE_CHARS


@pytest.mark.parametrize(
    ("delay_s", "lowest_ms", "highest_ms"),
    [
        (float("inf"), MAX_RETRY_DELAY_MS, MAX_RETRY_DELAY_MS),
        (86_400 * 30, MAX_RETRY_DELAY_MS, MAX_RETRY_DELAY_MS),
        (-5, 0, 0),
        (float("nan"), 500, 1000),  # no delay at all: the ordinary backoff
    ],
)
def test_retry_later_delays_are_capped_and_nonsense_falls_back_to_the_backoff(
    delay_s: float, lowest_ms: int, highest_ms: int
) -> None:
    assert lowest_ms <= backoff_ms(RetryLater(delay_s=delay_s), 1, 1000) <= highest_ms


def test_an_error_message_that_is_no_valid_text_still_makes_a_header() -> None:
    error = RuntimeError("upstream said \udc80\ud800 and left")
    out = failure_record(FakeRecord(), TOPICS, Outcome.RETRIED, error, 1, now_ms=0, delay_ms=0)
    message = dict(out.headers)[HEADER_ERROR_MESSAGE].decode()
    assert message.startswith("upstream said ")
    assert message.endswith(" and left")


def test_the_failed_handlers_are_named_and_replaced_not_repeated_by_the_next_failure() -> None:
    error = RuntimeError("x")
    retried = failure_record(FakeRecord(), TOPICS, Outcome.RETRIED, error, 1, now_ms=0, delay_ms=1, handlers=["a", "b"])
    assert dict(retried.headers)[HEADER_FAILED_HANDLERS] == b"a,b"
    record = FakeRecord(topic=TOPICS.retry_topic, partition=0, offset=7, headers=list(retried.headers))

    out = failure_record(record, TOPICS, Outcome.DEAD_LETTERED, error, 2, now_ms=0, delay_ms=0, handlers=["b"])

    assert [value for name, value in out.headers if name == HEADER_FAILED_HANDLERS] == [b"b"]
    bare = valueless_dead_letter(record, TOPICS, error, 2, ["b"])
    assert dict(bare.headers)[HEADER_FAILED_HANDLERS] == b"b"
