"""Every error the consumers raise, under one root.

```
ConsumerError
 ├── ConfigError          settings, handler modules: the process can't start   (not retriable)
 ├── StartupError         a handler module's lifespan failed: it can't start    (not retriable)
 ├── StoreUnavailable     Redis is away or refuses calls: pause and retry        (retriable)
 ├── BrokerUnavailable    Kafka did not take a retry or DLQ record: retry it     (retriable)
 ├── RecordTooLarge       ... and never will: it is over the topic's size limit  (not retriable)
 ├── InvalidEvent         the record is no valid envelope or payload: DLQ        (not retriable)
 └── HandlerError         a handler failed                                       (retriable)
      ├── HandlerTimeout  ... by running past its timeout                       (retriable)
      ├── RetryLater      ... and asks to be retried after `delay_s`             (retriable)
      └── PermanentError  ... and asks to go straight to the DLQ                 (not retriable)
```

A handler raises `RetryLater` or `PermanentError` to steer the retry; any other exception it raises counts
as retriable. The worker turns `retriable` into a retry or a dead letter in one place
(`consumers.retries.failure_outcome`).

`until_available` rides out an outage of Redis or Kafka (`StoreUnavailable`, `BrokerUnavailable`): the same
call again, with backoff, for as long as it takes. Nothing is skipped and nothing is assumed done meanwhile;
the partitions pause as their records pile up. One line says the outage began (and again when its cause
changes), one that it ended: not one per try.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

log = logging.getLogger(__name__)

T = TypeVar("T")

# While an outage lasts, its line is repeated this often, in seconds: a log reader sees it is still on.
REMIND_S = 60.0


class ConsumerError(Exception):
    """The root of every consumer error.

    Attributes:
        retriable: whether trying again later can succeed.
    """

    retriable: bool = False


class ConfigError(ConsumerError):
    """A setting or a handler module is wrong; the message names the variable or module."""


class StartupError(ConsumerError):
    """A handler module's lifespan raised while it was entered: the worker does not start."""


class StoreUnavailable(ConsumerError):
    """The idempotency store (Redis) did not answer or refused the call (NOREPLICAS, BUSY, NOPERM...): the worker
    backs off and retries, never skips."""

    retriable = True


class BrokerUnavailable(ConsumerError):
    """Kafka did not acknowledge a retry or dead-letter record: the worker backs off and sends it again."""

    retriable = True


class RecordTooLarge(ConsumerError):
    """Kafka refused a retry or dead-letter record for its size (over `max.message.bytes`): sending it again
    can't help, so the worker dead-letters the event without its value."""


class InvalidEvent(ConsumerError):
    """A record that is no valid envelope, or whose payload fails its provider's model."""


class HandlerError(ConsumerError):
    """A handler failed; retried with backoff up to its `max_attempts` (`CONSUMER_MAX_ATTEMPTS`) attempts."""

    retriable = True


class HandlerTimeout(HandlerError):
    """A handler ran past its `timeout_s` (`CONSUMER_HANDLER_TIMEOUT_S`)."""


class RetryLater(HandlerError):
    """Raised by a handler to be retried no sooner than `delay_s` seconds from now.

    Args:
        message: why, without payload data (it goes into a record header).
        delay_s: the wait before the next attempt, in seconds, instead of the exponential backoff; at most an
            hour (`consumers.retries.MAX_RETRY_DELAY_MS`: a retry partition is read in order, and a longer wait
            would hold back every retry behind it). A longer one is cut to that, a NaN gets the ordinary backoff.
    """

    def __init__(self, message: str = "retry later", *, delay_s: float) -> None:
        super().__init__(message)
        self.delay_s = delay_s


class PermanentError(HandlerError):
    """Raised by a handler for an event that will never succeed: it goes to the DLQ without a retry."""

    retriable = False


async def until_available(call: Callable[[], Awaitable[T]], *, backoff_s: tuple[float, float]) -> T:
    """`call()`'s result, retried while Redis or Kafka is unavailable; `backoff_s` is (first delay, cap),
    doubling in between."""
    delay_s, cap_s = backoff_s
    began = said_at = 0.0
    said = ""
    while True:
        try:
            result = await call()
        except (StoreUnavailable, BrokerUnavailable) as exc:
            now = time.monotonic()
            began = began or now
            if str(exc) != said or now - said_at >= REMIND_S:
                log.warning("%s; trying again with backoff until it does (for %.0fs so far)", exc, now - began)
                said, said_at = str(exc), now
            await asyncio.sleep(delay_s)
            delay_s = min(delay_s * 2, cap_s)
            continue
        if began:
            log.warning("%s: the call went through after %.1fs", said, time.monotonic() - began)
        return result
