"""aiokafka's retries of a broker still starting are INFO for a while; every other error stays ERROR."""

from __future__ import annotations

import logging

from aiokafka.errors import GroupCoordinatorNotAvailableError, NotCoordinatorForGroupError, NotLeaderForPartitionError

from consumers.kafka import StartupRetriesFilter


def record(error: Exception, level: int = logging.ERROR) -> logging.LogRecord:
    message = "Group Coordinator Request failed: %s"
    return logging.LogRecord("aiokafka.consumer.group_coordinator", level, __file__, 1, message, (error,), None)


def test_coordinator_not_available_is_info_during_the_grace_then_error_again() -> None:
    now = [100.0]
    quiet = StartupRetriesFilter(grace_s=60.0, clock=lambda: now[0])
    early = record(GroupCoordinatorNotAvailableError())
    assert quiet.filter(early)
    assert (early.levelno, early.levelname) == (logging.INFO, "INFO")
    now[0] = 161.0
    late = record(GroupCoordinatorNotAvailableError())
    assert quiet.filter(late)
    assert (late.levelno, late.levelname) == (logging.ERROR, "ERROR")


def test_other_errors_stay_errors() -> None:
    quiet = StartupRetriesFilter(grace_s=60.0)
    other = record(NotCoordinatorForGroupError())
    assert quiet.filter(other)
    assert other.levelno == logging.ERROR
    unrelated = logging.LogRecord("x", logging.ERROR, __file__, 1, "boom", None, None)
    assert quiet.filter(unrelated)
    assert unrelated.levelno == logging.ERROR


def test_a_fetcher_retry_for_a_partition_without_its_leader_yet_is_info() -> None:
    quiet = StartupRetriesFilter(grace_s=60.0)
    fetch = logging.LogRecord(
        "aiokafka.consumer.fetcher",
        logging.ERROR,
        __file__,
        1,
        "Failed fetch offsets from %s: %s",
        (1, NotLeaderForPartitionError()),
        None,
    )
    assert quiet.filter(fetch)
    assert fetch.levelno == logging.INFO
