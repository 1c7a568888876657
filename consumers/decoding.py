"""From a fetched record to what a handler gets: the envelope, and the payload as its handlers take it.

Every record's envelope is checked (`schemas.rawenvelope.read_envelope`); its payload is validated with the
provider's model only when a handler of the event takes `Event[Model]` (`Registry.payload_model_for`), else it stays
JSON bytes until a handler reads it. `decode` gives either a `Decoded` record (its event, and the key of its claim
in Redis) or an `Invalid` one: a record that is no valid envelope, or whose payload fails the model a handler asks
for, carries an `InvalidEvent` saying where and what is wrong, never the offending data (it goes into a DLQ header
and the logs).
"""

from __future__ import annotations

from typing import Any, NamedTuple

from pydantic import ValidationError

from consumers.errors import InvalidEvent
from consumers.handlers import Event
from consumers.idempotency import claim_key
from consumers.kafka import Record, header_text
from consumers.registry import Registry
from schemas.envelope import Envelope
from schemas.rawenvelope import read_envelope
from schemas.topics import HEADER_CONTENT_TYPE, HEADER_TRACEPARENT, GroupTopics


# Tuples: a record's one object on its way (a frozen dataclass sets each field through `object.__setattr__`).
class Decoded(NamedTuple):
    """A record that holds a valid event, and the Redis key its claim is held under."""

    record: Record
    topics: GroupTopics
    attempt: int
    event: Event[Any]
    claim_key: str


class Invalid(NamedTuple):
    """A record that holds no valid event, and why (`reason` goes into a DLQ header and the logs)."""

    record: Record
    topics: GroupTopics
    attempt: int
    reason: InvalidEvent


def decode(record: Record, topics: GroupTopics, group: str, attempt: int, registry: Registry[Any]) -> Decoded | Invalid:
    """Check a record of one of `topics` for `group`, whose handlers are `registry`'s; `attempt` is the one about
    to run."""
    content_type, traceparent = _headers(record)
    try:
        # Binary mode (the envelope) or structured mode (a CloudEvent around it), as the header says.
        head = read_envelope(record.value or b"", content_type)
    except ValidationError as exc:
        return Invalid(record, topics, attempt, InvalidEvent(f"no valid envelope: {_describe(exc)}"))
    model = registry.payload_model_for(head.provider, head.type)
    if model is None:
        event = Event.read(head, traceparent)
    else:
        json = head.payload if isinstance(head, Envelope) else head.parsed_payload()
        try:
            validated = model.model_validate(json)
        except ValidationError as exc:
            reason = f"invalid {head.provider} payload: {_describe(exc, 'payload.')}"
            return Invalid(record, topics, attempt, InvalidEvent(reason))
        event = Event.read(head, traceparent, json=json, model=validated)
    return Decoded(record, topics, attempt, event, claim_key(group, topics.provider, head.scoped_id))


def _headers(record: Record) -> tuple[str | None, str | None]:
    # The content type and the traceparent, the first of each name as `header` reads it, in one pass over the
    # record's headers: a loop of comparisons, not a dict of them all (which hashes each fresh name string).
    content_type = traceparent = None
    for name, value in record.headers:
        if name == HEADER_CONTENT_TYPE:
            if content_type is None:
                content_type = value
        elif name == HEADER_TRACEPARENT and traceparent is None:
            traceparent = value
    return (
        None if content_type is None else header_text(content_type),
        None if traceparent is None else header_text(traceparent),
    )


def _describe(exc: ValidationError, prefix: str = "") -> str:
    # Where and what, never the offending input: it is payload data.
    problems = [
        f"{prefix}{'.'.join(str(part) for part in error['loc']) or 'value'}: {error['msg']}"
        for error in exc.errors(include_url=False, include_input=False, include_context=False)[:5]
    ]
    return "; ".join(problems)
