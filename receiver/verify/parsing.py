"""What the schemes' `verify` parses and compares with: signature headers, timestamps, signed content and keys.

Everything here runs at the trust boundary, so it raises only the receiver's own errors: a malformed
header or timestamp becomes a `SignatureError`, never a `ValueError` that would escape as a 500.
Signatures are compared in constant time (`matching_secret`, `matching_key`). What `describe` reads of a
verified body is in `events.py`.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re
from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl

from receiver.errors import (
    FutureTimestamp,
    MalformedHeader,
    MissingHeader,
    SignatureError,
    StaleTimestamp,
)
from receiver.verify.base import Headers

# Entries read from a `key=value` signature header: a provider rotating its secret sends two or three.
MAX_SIGNATURE_ITEMS = 16
# Unix seconds fit in 11 digits until the year 5138: a longer value is no timestamp.
_MAX_UNIX_DIGITS = 11

# The placeholders of a signed-content template (`{timestamp}.{body}`): what a provider signs around, or
# instead of, the body. {form}: a form body's fields, names sorted, each name followed by its value (Mandrill).
SIGNED_PLACEHOLDERS = ("{body}", "{form}", "{timestamp}", "{id}", "{url}")
SIGNED_PLACEHOLDER = re.compile("(" + "|".join(re.escape(p) for p in SIGNED_PLACEHOLDERS) + ")")

DIGESTS: dict[str, Callable[[], Any]] = {
    "sha1": hashlib.sha1,
    "sha256": hashlib.sha256,
    "sha512": hashlib.sha512,
}


def require_header(headers: Headers, name: bytes) -> bytes:
    """The header's value; a missing or empty one is a `MissingHeader` naming it."""
    value = headers.get(name)
    if not value:
        raise MissingHeader(f"missing {name.decode()} header")
    return value


def unix_header(headers: Headers, name: bytes, *, max_digits: int = _MAX_UNIX_DIGITS) -> bytes:
    """A signed timestamp header's value as sent (what the provider signs), checked to be unix seconds (or
    milliseconds, with `max_digits=14`); a `MissingHeader` or `MalformedHeader` naming it otherwise."""
    value = require_header(headers, name).strip()
    if not (value.isdigit() and value.isascii() and 0 < len(value) <= max_digits):
        parse_unix(value, name=name.decode(), max_digits=max_digits)  # raises, naming the header
    return value


def signed_content(
    template: str, headers: Headers, body: bytes, timestamp: bytes, *, id_header: str | None, url: str = ""
) -> bytes:
    """What a template signs: the raw body, its sorted form fields, the raw values of the timestamp and id
    headers, the URL the provider calls, and the text between them as it is."""
    if template == "{body}":
        return body
    parts = []
    for part in SIGNED_PLACEHOLDER.split(template):
        if part == "{body}":
            parts.append(body)
        elif part == "{form}":
            parts.append(form_fields(body))
        elif part == "{timestamp}":
            parts.append(timestamp)
        elif part == "{id}":
            if id_header is None:
                raise MissingHeader("the signed content names {id} but the source has no id_header")
            parts.append(require_header(headers, id_header.lower().encode()).strip())
        elif part == "{url}":
            parts.append(url.encode())
        else:
            parts.append(part.encode())
    return b"".join(parts)


def form_fields(body: bytes) -> bytes:
    """A form body's fields as Mandrill signs them: names sorted, each followed by its value."""
    try:
        fields = parse_qsl(body.decode("utf-8"), keep_blank_values=True, max_num_fields=1000)
    except (UnicodeDecodeError, ValueError):
        raise MalformedHeader("the form body can't be parsed, so its signature can't be checked") from None
    return "".join(name + value for name, value in sorted(fields)).encode()


def hmac_digest(algorithm: str, secret: bytes, message: bytes) -> bytes:
    if algorithm not in DIGESTS:
        raise KeyError(algorithm)
    # OpenSSL's one-shot HMAC: no HMAC object per request.
    return hmac.digest(secret, message, algorithm)


def matching_key(secrets: Sequence[bytes], check: Callable[[bytes], None]) -> int:
    """The position of the first public key (secret) whose `check` passes; `SignatureError` if none.

    `check` verifies the request's signature with one key and raises `InvalidSignature` when it doesn't
    (the `cryptography` keys' own `verify`). Every key is tried, so the time taken doesn't tell which matched.
    """
    # Here rather than at the top: cryptography costs a receiver ~7 MiB, and only the keyed schemes need it.
    from cryptography.exceptions import InvalidSignature

    found = -1
    for position, secret in enumerate(secrets):
        try:
            check(secret)
        except InvalidSignature:
            continue
        if found < 0:
            found = position
    if found < 0:
        raise SignatureError("signature does not match")
    return found


def matching_secret(expected: Iterable[bytes], candidates: Sequence[bytes], *, per_secret: int = 1) -> int:
    """The position of the secret whose expected signature equals a candidate; `SignatureError` if none.

    Args:
        expected: the expected signatures in secret order, `per_secret` consecutive values per secret
            (Twilio accepts the URL with and without its port, so it has two).
        candidates: the signatures the request carries (several while the provider rotates a secret).

    Every pair is compared with `hmac.compare_digest` and without an early exit, so the time taken
    doesn't depend on which secret or which signature matched.
    """
    found = -1
    for position, value in enumerate(expected):
        for candidate in candidates:
            if hmac.compare_digest(value, candidate) and found < 0:
                found = position // per_secret
    if found < 0:
        raise SignatureError("signature does not match")
    return found


def check_timestamp(timestamp_s: float, now_s: float, tolerance_s: int) -> None:
    """Refuse a signed timestamp further than the tolerance from now, past (replays) or future (skew)."""
    if now_s - timestamp_s > tolerance_s:
        raise StaleTimestamp(f"timestamp is {int(now_s - timestamp_s)}s old, tolerance {tolerance_s}s")
    if timestamp_s - now_s > tolerance_s:
        raise FutureTimestamp(f"timestamp is {int(timestamp_s - now_s)}s ahead, tolerance {tolerance_s}s")


def parse_unix(value: bytes, *, name: str, max_digits: int = _MAX_UNIX_DIGITS) -> int:
    """An unsigned decimal integer from a header (`max_digits`: 11 for seconds, 14 for milliseconds)."""
    if not (value.isdigit() and value.isascii() and 0 < len(value) <= max_digits):
        raise MalformedHeader(f"{name} is not a unix timestamp")
    return int(value)


def signature_items(value: bytes, *, separator: bytes = b",") -> list[tuple[bytes, bytes]]:
    """The `key=value` entries of a signature header (`t=…,v1=…`), in order; entries without `=` are
    skipped, and only the first `MAX_SIGNATURE_ITEMS` are read."""
    items = []
    for item in value.split(separator)[:MAX_SIGNATURE_ITEMS]:
        key, sep, item_value = item.strip().partition(b"=")
        if sep:
            items.append((key, item_value))
    return items


def timestamp_and_signatures(
    value: bytes, *, name: str, separator: bytes = b",", timestamp_key: bytes = b"t", signature_key: bytes = b"v1"
) -> tuple[bytes, list[bytes]]:
    """The first timestamp (unix seconds, checked) and every signature (lower-case hex) of a header such as
    Stripe's `t=…,v1=…,v1=…`; a header without both is a `MalformedHeader` naming it."""
    timestamp: bytes | None = None
    signatures: list[bytes] = []
    for key, item_value in signature_items(value, separator=separator):
        if key == signature_key:
            signatures.append(item_value.lower())
        elif key == timestamp_key and timestamp is None:
            timestamp = item_value
    if timestamp is None:
        raise MalformedHeader(f"{name} has no {timestamp_key.decode()}= timestamp")
    if not (timestamp.isdigit() and timestamp.isascii() and len(timestamp) <= _MAX_UNIX_DIGITS):
        parse_unix(timestamp, name=f"{name} {timestamp_key.decode()}")  # raises, naming the header
    if not signatures:
        raise MalformedHeader(f"{name} has no {signature_key.decode()}= signature")
    return timestamp, signatures


def parse_rfc3339(value: bytes | str, *, name: str) -> datetime:
    """An RFC 3339 date-time with an offset (Twitch sends nanoseconds: Python keeps microseconds)."""
    try:
        text_value = value.decode("ascii") if isinstance(value, bytes) else value
        parsed = datetime.fromisoformat(text_value) if "T" in text_value[:11] else None
    except (UnicodeDecodeError, ValueError):
        parsed = None
    if parsed is None or parsed.tzinfo is None:
        raise MalformedHeader(f"{name} is not an RFC 3339 date-time")
    return parsed


def decode_base64(value: bytes, *, name: str) -> bytes:
    """Strict standard base64; anything else is a `MalformedHeader`."""
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise MalformedHeader(f"{name} is not base64") from None


def utc_rfc3339(seconds: float) -> str:
    """Unix seconds as an RFC 3339 UTC date-time ending in `Z`, as providers write them (for samples)."""
    return datetime.fromtimestamp(seconds, UTC).isoformat().replace("+00:00", "Z")
