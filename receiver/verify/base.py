"""What every signature scheme shares: the `Scheme` protocol, header access, HMAC and body parsing.

Everything here runs at the trust boundary, so it raises only the receiver's own errors: a malformed
header, timestamp or body becomes `SignatureError` or `BadRequest`, never a `ValueError` that would
escape as a 500.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

import orjson

from receiver.errors import BadRequest, SignatureError, StaleTimestamp, UnsupportedMediaType

# Request headers as the ASGI server gives them: lower-case names, raw bytes values.
Headers = Mapping[bytes, bytes]

# Event ids become Kafka keys and Redis key parts: bounded, and printable.
MAX_EVENT_ID_CHARS = 256

DIGESTS: dict[str, Callable[[], Any]] = {
    "sha1": hashlib.sha1,
    "sha256": hashlib.sha256,
    "sha512": hashlib.sha512,
}


@dataclass(frozen=True, slots=True)
class Verified:
    """What the receiver publishes of a verified request, besides the source it came in on."""

    id: str
    type: str
    payload_json: bytes
    occurred_at: datetime | None = None
    headers: Mapping[str, str] = field(default_factory=dict)


class Scheme(Protocol):
    """One provider's way of signing and describing its webhooks."""

    @property
    def provider(self) -> str:
        """The provider name: the default topic suffix and the envelope's `provider`."""
        ...

    def verify(self, headers: Headers, body: bytes, secrets: Sequence[bytes], now_s: float) -> None:
        """Raise `SignatureError` (or `StaleTimestamp`) unless one of `secrets` signed exactly `body`."""
        ...

    def describe(self, source: str, headers: Headers, body: bytes) -> Verified:
        """Parse a verified body and find its event id and type; raise `BadRequest` where it can't."""
        ...


def require_header(headers: Headers, name: bytes) -> bytes:
    """The header's value; a missing or empty one is a `SignatureError` naming it."""
    value = headers.get(name)
    if not value:
        raise SignatureError(f"missing {name.decode()} header")
    return value


def hmac_digest(algorithm: str, secret: bytes, message: bytes) -> bytes:
    return hmac.new(secret, message, DIGESTS[algorithm]).digest()


def matches_any(expected: Iterable[bytes], candidates: Sequence[bytes]) -> bool:
    """Constant-time check that any candidate equals any expected value (rotated secrets, several sigs)."""
    found = False
    for value in expected:
        for candidate in candidates:
            # No early exit: the time taken doesn't depend on which secret or signature matched.
            found |= hmac.compare_digest(value, candidate)
    return found


def check_timestamp(timestamp_s: int, now_s: float, tolerance_s: int) -> None:
    """Refuse a signed timestamp further than the tolerance from now, past or future (replays)."""
    if abs(now_s - timestamp_s) > tolerance_s:
        raise StaleTimestamp(f"timestamp is {int(now_s - timestamp_s)}s from now, tolerance {tolerance_s}s")


def check_json_content_type(headers: Headers) -> None:
    """Accept `application/json`, any `+json` type, or no content type; anything else is a 415."""
    value = headers.get(b"content-type")
    if value is None:
        return
    media_type = value.split(b";", 1)[0].strip().lower()
    if media_type != b"application/json" and not media_type.endswith(b"+json"):
        raise UnsupportedMediaType("content type must be application/json")


def parse_json_object(body: bytes) -> dict[str, Any]:
    """The body as a JSON object; anything else is a `BadRequest`."""
    try:
        value = orjson.loads(body)
    except orjson.JSONDecodeError:
        raise BadRequest("body is not valid UTF-8 JSON") from None
    if not isinstance(value, dict):
        raise BadRequest("body must be a JSON object")
    return value


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


def fallback_event_id(source: str, body: bytes) -> str:
    """SHA-256 of source and body, for senders that give no id: a retried delivery gets the same id."""
    return hashlib.sha256(source.encode() + b"\x00" + body).hexdigest()


def text(value: object) -> str:
    """A body field as the envelope's `type`: strings as they are, anything else empty."""
    return value if isinstance(value, str) else ""
