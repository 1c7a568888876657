"""Every error the consumers raise, under one root.

```
ConsumerError
 ├── ConfigError          settings, handler modules: the process can't start   (not retriable)
 ├── StoreUnavailable     Redis is away or refuses calls: pause and retry        (retriable)
 ├── BrokerUnavailable    Kafka did not take a retry or DLQ record: retry it     (retriable)
 ├── RecordTooLarge       ... and never will: it is over the topic's size limit  (not retriable)
 ├── InvalidEvent         the record is no valid envelope or payload: DLQ        (not retriable)
 └── HandlerError         a handler failed                                       (retriable)
      ├── HandlerTimeout  ... by running past `CONSUMER_HANDLER_TIMEOUT_S`       (retriable)
      ├── RetryLater      ... and asks to be retried after `delay_s`             (retriable)
      └── PermanentError  ... and asks to go straight to the DLQ                 (not retriable)
```

A handler raises `RetryLater` or `PermanentError` to steer the retry; any other exception it raises counts
as retriable. The worker turns `retriable` into a retry or a dead letter in one place
(`consumers.routing.failure_route`).
"""

from __future__ import annotations


class ConsumerError(Exception):
    """The root of every consumer error.

    Attributes:
        retriable: whether trying again later can succeed.
    """

    retriable: bool = False


class ConfigError(ConsumerError):
    """A setting or a handler module is wrong; the message names the variable or module."""


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
    """A handler failed; retried with backoff up to `CONSUMER_MAX_ATTEMPTS` attempts."""

    retriable = True


class HandlerTimeout(HandlerError):
    """A handler ran past `CONSUMER_HANDLER_TIMEOUT_S`."""


class RetryLater(HandlerError):
    """Raised by a handler to be retried no sooner than `delay_s` seconds from now.

    Args:
        message: why, without payload data (it goes into a record header).
        delay_s: the wait before the next attempt, in seconds, instead of the exponential backoff; at most an
            hour (`consumers.routing.MAX_RETRY_DELAY_MS`: a retry partition is read in order, and a longer wait
            would hold back every retry behind it). A longer one is cut to that, a NaN gets the ordinary backoff.
    """

    def __init__(self, message: str = "retry later", *, delay_s: float) -> None:
        super().__init__(message)
        self.delay_s = delay_s


class PermanentError(HandlerError):
    """Raised by a handler for an event that will never succeed: it goes to the DLQ without a retry."""

    retriable = False
