"""What a handler is: `async def handler(event, context) -> None`, an `Event` (what happened) and its `Context`
(this run: the attempt, the deadline, the idempotency key, a bound logger and the lifespan's state).

`consumers.registry` says which handlers run for which events, with what limits; `consumers.runner` runs them.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable, Mapping, MutableMapping
from dataclasses import dataclass
from typing import Any, Generic

from typing_extensions import TypeVar

from schemas import Envelope

P = TypeVar("P")
# A bare `Context` is `Context[Any]`: the state is typed only where a handler says what its lifespan yields.
S = TypeVar("S", default=Any)


@dataclass(frozen=True, slots=True)
class Event(Generic[P]):
    """What happened: the event as the receiver published it, with its payload validated.

    Attributes:
        envelope: the event as the receiver published it.
        payload: the payload validated with the provider's model (`schemas.payloads`), or the plain JSON
            for a provider without one.
        traceparent: the record's W3C trace context (the sender's, or the receiver's publish span), if any.
            With tracing on, the handler's own span is the current OpenTelemetry span while it runs.
    """

    envelope: Envelope
    payload: P
    traceparent: str | None = None

    @property
    def id(self) -> str:
        """The event id."""
        return self.envelope.id

    @property
    def provider(self) -> str:
        """The provider (`github`, `stripe`, `hmac`, ...)."""
        return self.envelope.provider

    @property
    def source(self) -> str:
        """The receiver's source the event came in by (`/webhooks/<source>`)."""
        return self.envelope.source

    @property
    def type(self) -> str:
        """The provider's event type (`push`, `payment_intent.succeeded`, ...), `""` when it has none."""
        return self.envelope.type


class EventLogger(logging.LoggerAdapter[logging.Logger]):
    """A logger that prefixes every message with the event it is about (id, type, attempt), never its payload."""

    def process(self, msg: Any, kwargs: MutableMapping[str, Any]) -> tuple[Any, MutableMapping[str, Any]]:
        extra: Mapping[str, object] = self.extra or {}
        kwargs.setdefault("extra", {}).update(extra)
        return (
            f"event {extra.get('event_id')} ({extra.get('event_type')}, attempt {extra.get('attempt')}): {msg}",
            kwargs,
        )


@dataclass(frozen=True, slots=True)
class Context(Generic[S]):
    """This run of a handler for one event (`Event` is what happened).

    Attributes:
        attempt: 1 on the first delivery to this group, one more per retry (and per replay from the DLQ).
        max_attempts: the handler's `max_attempts` (default `CONSUMER_MAX_ATTEMPTS`); after a failure of the last
            attempt the event is dead-lettered.
        deadline: when the worker cancels the handler, on the `time.monotonic()` clock.
        idempotency_key: the event id (`<tenant>/<id>` for a tenant's source: `Envelope.scoped_id`); pass it to
            every downstream call that takes one (an agent run, a payment API), so that a retry after a partial
            success does not act twice.
        log: a logger whose lines name the event, its type and the attempt.
        state: what the lifespan of the handler's registry yielded (its shared clients); None without one.
    """

    attempt: int
    max_attempts: int
    deadline: float
    idempotency_key: str
    log: logging.LoggerAdapter[logging.Logger]
    state: S

    @property
    def time_left_s(self) -> float:
        """Seconds until the deadline (0 when it has passed): give a downstream call less than this."""
        return max(0.0, self.deadline - time.monotonic())

    @property
    def last_attempt(self) -> bool:
        """Whether a failure now sends the event to the DLQ instead of the retry topic."""
        return self.attempt >= self.max_attempts


# The one shape of a handler: `async def handler(event, context) -> None` (checked when it is registered).
HandlerFunc = Callable[[Event[Any], Context[Any]], Awaitable[None]]


def bound_logger(logger: logging.Logger, *, event_id: str, event_type: str, attempt: int) -> EventLogger:
    """A logger for one handler run of one event."""
    return EventLogger(logger, {"event_id": event_id, "event_type": event_type or "-", "attempt": attempt})
