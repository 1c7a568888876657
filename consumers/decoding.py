"""From a fetched record to what a handler gets: the envelope, the payload validated with its provider's model.

A record that is no valid envelope, or whose payload fails the model, becomes an `InvalidEvent` carrying
where and what is wrong, never the offending data (it goes into a DLQ header and the logs).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from consumers.errors import InvalidEvent
from consumers.idempotency import idempotency_key
from consumers.kafka import Record
from consumers.registry import Event
from consumers.routing import Route, header
from schemas.payloads import payload_model
from schemas.records import envelope_of
from schemas.topics import HEADER_ATTEMPT, HEADER_CONTENT_TYPE, HEADER_TRACEPARENT


@dataclass(frozen=True, slots=True)
class Decoded:
    """A record and what became of it: an `event` (with its Redis `key`), or the reason it is `invalid`."""

    record: Record
    route: Route
    attempt: int
    event: Event[Any] | None = None
    key: str = ""
    invalid: InvalidEvent | None = None


def decode(record: Record, route: Route, group: str, attempt: int) -> Decoded:
    """Validate a record of `route`'s topics for `group`; `attempt` is the one about to run."""
    try:
        # Binary mode (the envelope) or structured mode (a CloudEvent around it), as the header says.
        envelope = envelope_of(record.value or b"", header(record, HEADER_CONTENT_TYPE))
    except ValidationError as exc:
        return Decoded(record, route, attempt, invalid=InvalidEvent(f"no valid envelope: {_describe(exc)}"))
    model = payload_model(envelope.provider)
    try:
        payload = model.model_validate(envelope.payload) if model is not None else envelope.payload
    except ValidationError as exc:
        reason = f"invalid {envelope.provider} payload: {_describe(exc, 'payload.')}"
        return Decoded(record, route, attempt, invalid=InvalidEvent(reason))
    event = Event(
        envelope=envelope,
        payload=payload,
        attempt=attempt,
        idempotency_key=envelope.id,
        traceparent=header(record, HEADER_TRACEPARENT),
    )
    return Decoded(record, route, attempt, event=event, key=idempotency_key(group, route.provider, envelope.id))


def attempt_of(record: Record) -> int:
    """The attempt a retry record carries (`HEADER_ATTEMPT`); 1 when it carries none."""
    return max(1, int_header(record, HEADER_ATTEMPT) or 1)


def int_header(record: Record, name: str) -> int | None:
    """A record header as an integer; None when it is missing or no integer."""
    value = header(record, name)
    try:
        return int(value) if value is not None else None
    except ValueError:
        return None


def _describe(exc: ValidationError, prefix: str = "") -> str:
    # Where and what, never the offending input: it is payload data.
    problems = [
        f"{prefix}{'.'.join(str(part) for part in error['loc']) or 'value'}: {error['msg']}"
        for error in exc.errors(include_url=False, include_input=False, include_context=False)[:5]
    ]
    return "; ".join(problems)
