"""What a handler is: `async def handler(event, context) -> None`, an `Event` (what happened) and its `Context`
(this run: the attempt, the deadline, the idempotency key, a bound logger and the lifespan's state).

`consumers.registry` says which handlers run for which events, with what limits; `consumers.runner` runs them.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable, Mapping, MutableMapping
from typing import Any, Generic, cast

from typing_extensions import TypeVar

from schemas import Envelope
from schemas.rawenvelope import RawEnvelope

P = TypeVar("P")
# A bare `Context` is `Context[Any]`: the state is typed only where a handler says what its lifespan yields.
S = TypeVar("S", default=Any)


# An `Event` whose payload has not been parsed (or validated) yet.
_UNREAD: Any = object()


class Event(Generic[P]):
    """What happened: the event as the receiver published it.

    A handler that takes `Event[Model]` gets the payload validated with its provider's model (the worker checks
    at start-up that `Model` is that model, or a base of it): a payload that fails the model is dead-lettered before
    any handler of the event runs. A handler that takes `Event[Any]` or `Event[object]` (or leaves it unannotated)
    gets the payload as plain JSON, parsed when it first reads it and never validated: a group whose handlers
    all take plain JSON does not pay for a model it does not use.

    Args:
        envelope: the event as the receiver published it.
        payload: the payload, as the handler reads it.
        traceparent: the record's W3C trace context, if any.

    Attributes:
        envelope: the event as the receiver published it (built when first read, for an event the worker read).
        payload: the payload validated with the provider's model (`schemas.payloads`) for a handler that takes
            `Event[Model]`, else the plain JSON.
        traceparent: the record's W3C trace context (the sender's, or the receiver's publish span), if any.
            With tracing on, the handler's own span is the current OpenTelemetry span while it runs.
    """

    __slots__ = ("_envelope", "_head", "_json", "_model", "_payload", "_traceparent")

    def __init__(self, envelope: Envelope, payload: P, traceparent: str | None = None) -> None:
        self._head: Envelope | RawEnvelope = envelope
        self._envelope: Envelope | None = envelope
        self._json: Any = envelope.payload
        self._payload: Any = payload
        self._model: Any = _UNREAD
        self._traceparent = traceparent

    @classmethod
    def read(
        cls, head: Envelope | RawEnvelope, traceparent: str | None = None, *, json: Any = _UNREAD, model: Any = _UNREAD
    ) -> Event[Any]:
        """The event of a record, as a handler that takes plain JSON sees it: the payload parsed and the `Envelope`
        built when first read.

        Args:
            head: the record's envelope, its payload's JSON unparsed (`schemas.rawenvelope.read_envelope`).
            traceparent: the record's W3C trace context, if any.
            json: the payload's plain JSON, where the caller has parsed it already.
            model: the payload validated with the provider's model, for handlers that take `Event[Model]` (`typed`).
        """
        event: Event[Any] = cls.__new__(cls)
        event._head = head
        event._envelope = head if isinstance(head, Envelope) else None
        event._json = head.payload if isinstance(head, Envelope) else json
        event._payload = _UNREAD
        event._model = model
        event._traceparent = traceparent
        return event

    def typed(self) -> Event[Any]:
        """The event as a handler that takes `Event[Model]` sees it: with the validated payload (this event where it
        has none: a provider without a model)."""
        if self._model is _UNREAD:
            return self
        event: Event[Any] = Event.read(self._head, self._traceparent, json=self._json)
        event._envelope = self._envelope
        event._payload = self._model
        return event

    @property
    def envelope(self) -> Envelope:
        """The event as the receiver published it."""
        if self._envelope is None:
            head = self._head
            assert isinstance(head, RawEnvelope)
            self._envelope = head.envelope(self._plain())
        return self._envelope

    @property
    def payload(self) -> P:
        """The payload: validated with its provider's model for a handler that takes `Event[Model]`, else the plain
        JSON."""
        return cast(P, self._plain() if self._payload is _UNREAD else self._payload)

    @property
    def traceparent(self) -> str | None:
        """The record's W3C trace context, if any."""
        return self._traceparent

    @property
    def id(self) -> str:
        """The event id."""
        return self._head.id

    @property
    def provider(self) -> str:
        """The provider (`github`, `stripe`, `hmac`, ...)."""
        return self._head.provider

    @property
    def source(self) -> str:
        """The receiver's source the event came in by (`/webhooks/<source>`)."""
        return self._head.source

    @property
    def type(self) -> str:
        """The provider's event type (`push`, `payment_intent.succeeded`, ...), `""` when it has none."""
        return self._head.type

    @property
    def tenant(self) -> str | None:
        """The tenant of the source the event came in by, where it names one."""
        return self._head.tenant

    @property
    def scoped_id(self) -> str:
        """`<tenant>/<id>` for an event of a tenant, else the id: what names the event for deduplication."""
        return self._head.scoped_id

    def __repr__(self) -> str:
        return f"Event(id={self.id!r}, provider={self.provider!r}, type={self.type!r})"

    def _plain(self) -> Any:
        # The payload's plain JSON, parsed once.
        if self._json is _UNREAD:
            head = self._head
            assert isinstance(head, RawEnvelope)
            self._json = head.parsed_payload()
        return self._json


class EventLogger(logging.LoggerAdapter[logging.Logger]):
    """A logger that prefixes every message with the event it is about (id, type, attempt), never its payload."""

    def process(self, msg: Any, kwargs: MutableMapping[str, Any]) -> tuple[Any, MutableMapping[str, Any]]:
        extra: Mapping[str, object] = self.extra or {}
        kwargs.setdefault("extra", {}).update(extra)
        return (
            f"event {extra.get('event_id')} ({extra.get('event_type')}, attempt {extra.get('attempt')}): {msg}",
            kwargs,
        )


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

    __slots__ = ("_event", "_log", "_logger", "attempt", "deadline", "idempotency_key", "max_attempts", "state")

    def __init__(
        self,
        attempt: int,
        max_attempts: int,
        deadline: float,
        idempotency_key: str,
        log: logging.LoggerAdapter[logging.Logger] | None,
        state: S,
    ) -> None:
        # `log` None: bound to the event when first used (`of_run`).
        self.attempt, self.max_attempts, self.deadline = attempt, max_attempts, deadline
        self.idempotency_key, self.state = idempotency_key, state
        self._log = log
        self._logger: logging.Logger | None = None
        self._event: Event[Any] | None = None

    @classmethod
    def of_run(
        cls, event: Event[Any], logger: logging.Logger, *, attempt: int, max_attempts: int, deadline: float, state: S
    ) -> Context[S]:
        """The context of a run of a handler for `event`: its `log` (`logger`, bound to the event) made when first
        used, as most runs never log."""
        context = cls(attempt, max_attempts, deadline, event.scoped_id, None, state)
        context._logger, context._event = logger, event
        return context

    @property
    def log(self) -> logging.LoggerAdapter[logging.Logger]:
        """A logger whose lines name the event, its type and the attempt."""
        if self._log is None:
            event = self._event
            assert self._logger is not None
            assert event is not None
            self._log = bound_logger(self._logger, event_id=event.id, event_type=event.type, attempt=self.attempt)
        return self._log

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
