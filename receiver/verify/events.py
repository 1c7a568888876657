"""What the schemes' `describe` reads of a verified body: its JSON or form, and the event's id, type, time,
subject and the headers kept beside it.

Everything here runs at the trust boundary, so it raises only the receiver's own errors: a malformed body
becomes a `BadRequest` (or a `SignatureError` where the body carries the signatures), never a `ValueError`
that would escape as a 500.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl

import orjson

from receiver.errors import (
    BadRequest,
    MalformedHeader,
    MissingHeader,
    UnsupportedMediaType,
)
from receiver.verify.base import Headers, Verified
from receiver.verify.jsonview import JsonView, parse_object, step
from receiver.verify.parsing import parse_rfc3339

# Event ids become Kafka keys and Redis key parts: bounded, and printable.
MAX_EVENT_ID_CHARS = 256


def check_json_content_type(headers: Headers) -> None:
    """Accept `application/json`, any `+json` type, or no content type; anything else is a 415."""
    value = headers.get(b"content-type")
    if value is None:
        return
    media_type = value.split(b";", 1)[0].strip().lower()
    if media_type != b"application/json" and not media_type.endswith(b"+json"):
        raise UnsupportedMediaType("content type must be application/json")


def json_object(headers: Headers, body: bytes) -> JsonView:
    """The body of a JSON delivery, read as `describe` reads it (`JsonView`: only the fields read become Python): a
    415 unless the content type is JSON, a 400 unless it is an object."""
    check_json_content_type(headers)
    return parse_object(body)


def parse_json_object(body: bytes) -> dict[str, Any]:
    """The body as a JSON object; anything else is a `BadRequest`."""
    value = parse_json(body)
    if not isinstance(value, dict):
        raise BadRequest("body must be a JSON object")
    return value


def parse_json(body: bytes) -> Any:
    """The body as any JSON value (HubSpot and SendGrid send arrays); invalid JSON is a `BadRequest`."""
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError:
        raise BadRequest("body is not valid UTF-8 JSON") from None


def signed_list(body: bytes, key: str, *, max_items: int, what: str) -> list[Any]:
    """The non-empty list under `key` of a JSON body that carries its signatures inside (Adyen's items,
    Graph's notifications): a body without one has no signature to check, so it is a `SignatureError`."""
    try:
        payload = parse_json(body)
    except BadRequest:
        raise MalformedHeader(f"{what} must be JSON") from None
    value = payload.get(key) if isinstance(payload, dict) else None
    if not isinstance(value, list) or not value or len(value) > max_items:
        raise MissingHeader(f"{what} must hold 1 to {max_items} {key}")
    return value


@dataclass(frozen=True, slots=True)
class EventBatch:
    """How a provider that sends its events in batches (HubSpot, SendGrid) is described: a JSON array of event
    objects, published as one event with the id of a lone event (a batch's is the SHA-256 of source and body,
    the same on a retry) and the type the events share, else `batch`; occurred: the first event's time."""

    provider: str
    id_key: str
    type_key: str
    occurred_key: str
    kept_headers: tuple[bytes, ...]
    # `occurred_key` in seconds (1) or milliseconds (1000).
    per_second: int = 1
    # Whether a lone object is taken as a batch of one.
    lone_object: bool = False

    def describe(self, source: str, headers: Headers, body: bytes) -> Verified:
        check_json_content_type(headers)
        events = parse_json(body)
        if self.lone_object and isinstance(events, dict):
            events = [events]
        if not isinstance(events, list) or not events or not all(isinstance(e, dict) for e in events):
            raise BadRequest(f"a {self.provider} body must be a non-empty array of event objects")
        found = event_id(events[0].get(self.id_key)) if len(events) == 1 else None
        types = {text(event.get(self.type_key)) for event in events}
        return Verified(
            id=found or fallback_event_id(source, body),
            type=types.pop() if len(types) == 1 else "batch",
            payload_json=body,
            occurred_at=from_unix(events[0].get(self.occurred_key), per_second=self.per_second),
            headers=kept_headers(headers, self.kept_headers),
        )


def media_type(headers: Headers, default: bytes = b"application/json") -> bytes:
    """The content type without its parameters, lower case."""
    return headers.get(b"content-type", default).split(b";", 1)[0].strip().lower()


FORM = b"application/x-www-form-urlencoded"


def parse_form(body: bytes) -> dict[str, Any]:
    """A form-encoded body as a JSON-ready dict: one value as a string, repeated names as a list.

    Empty values are kept: Twilio signs them (`Body=` is `Body` + `""`).
    """
    try:
        pairs = parse_qsl(body.decode("utf-8"), keep_blank_values=True, strict_parsing=bool(body), max_num_fields=1000)
    except (UnicodeDecodeError, ValueError):
        raise BadRequest("malformed form body") from None
    fields: dict[str, Any] = {}
    for name, value in pairs:
        if name not in fields:
            fields[name] = value
        elif isinstance(fields[name], list):
            fields[name].append(value)
        else:
            fields[name] = [fields[name], value]
    return fields


def kept_headers(headers: Headers, names: Iterable[bytes]) -> dict[str, str]:
    """The named headers that are present, for the envelope (never a signature or a credential)."""
    return {name.decode(): headers[name].decode("latin-1") for name in names if name in headers}


def from_unix(value: object, *, per_second: int = 1) -> datetime | None:
    """A number of seconds (or ms with `per_second=1000`) since the epoch as UTC, or None if it isn't one."""
    if isinstance(value, str):
        try:
            value = float(value)
        except ValueError:
            return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    seconds = value / per_second
    if not 0 <= seconds < 10**11:
        return None
    return datetime.fromtimestamp(seconds, UTC)


def from_rfc3339(value: object) -> datetime | None:
    """A body field holding an RFC 3339 date-time, or None where it isn't one."""
    if not isinstance(value, str):
        return None
    try:
        return parse_rfc3339(value, name="date")
    except MalformedHeader:
        return None


def dig(value: Any, *path: str) -> Any:
    """`value[path[0]][path[1]]...`, or None where a step is missing; a number steps into a list."""
    return value.dig(*path) if isinstance(value, JsonView) else step(value, path)


def event_id(value: object) -> str | None:
    """A usable event id from a body field or header value, or None where there is none."""
    if isinstance(value, bytes):
        value = value.decode("latin-1")
    elif isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str) or not value:
        return None
    if len(value) > MAX_EVENT_ID_CHARS or not value.isprintable():
        raise BadRequest(f"event id must be 1 to {MAX_EVENT_ID_CHARS} printable characters")
    return value


def required_event_id(value: object, missing: str) -> str:
    """`event_id(value)` where the provider always sends one: without it, `BadRequest(missing)`."""
    found = event_id(value)
    if found is None:
        raise BadRequest(missing)
    return found


def fallback_event_id(source: str, body: bytes) -> str:
    """SHA-256 of source and body, for senders that give no id: a retried delivery gets the same id."""
    return hashlib.sha256(source.encode() + b"\x00" + body).hexdigest()


def subject(value: object) -> str | None:
    """A body field as the event's `subject`: a printable string of at most `MAX_EVENT_ID_CHARS`, else None
    (it is optional: an odd one is left out, the event is still accepted)."""
    if isinstance(value, str) and 0 < len(value) <= MAX_EVENT_ID_CHARS and value.isprintable():
        return value
    return None


def text(value: object) -> str:
    """A body field as the envelope's `type`: strings as they are, anything else empty."""
    return value if isinstance(value, str) else ""
