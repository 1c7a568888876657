"""The generic HMAC scheme: a keyed hash of the raw body (or of a template around it) in one header.

Default (the seed article's): `X-Signature-256: sha256=<hex>` over the raw body. A custom source can
name another header, prefix, hash (sha1, sha256, sha512) and encoding (hex, base64), and for senders
that sign a time: a `timestamp_header` (unix seconds or milliseconds, checked against the tolerance in
both directions) and a `signed_content` template such as `{timestamp}.{body}` (placeholders:
`{timestamp}` and `{id}`, the raw values of the timestamp and id headers, and `{body}`, the raw body).

Event id: `id_header` or `id_field` (a dotted path into the body) where the source names one; otherwise
a delivery id header (`Idempotency-Key`, `X-Event-Id`, `webhook-id`), else a SHA-256 of source and body.
Never the body's own `id` unless `id_field = "id"` says so: many senders post the resource itself, whose
`id` stays the same across its updates, so each later update would be dropped as a duplicate.
Type: `type_header` or `type_field` where named, else the body's `type` or `event_type`.
"""

from __future__ import annotations

import base64
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import orjson

from receiver.errors import MalformedHeader
from receiver.verify.base import Delivery, Headers, Sample, Verified
from receiver.verify.events import dig, event_id, fallback_event_id, json_object, kept_headers, text
from receiver.verify.jsonview import JsonView
from receiver.verify.parsing import (
    check_timestamp,
    hmac_digest,
    matching_secret,
    require_header,
    signed_content,
    unix_header,
    utc_rfc3339,
)

Algorithm = Literal["sha1", "sha256", "sha512"]
Encoding = Literal["hex", "base64"]
TimestampUnit = Literal["s", "ms"]

PLACEHOLDERS = ("{timestamp}", "{id}", "{body}")
_ID_HEADERS = (b"idempotency-key", b"x-event-id", b"webhook-id")
_KEPT_HEADERS = (*_ID_HEADERS, b"user-agent")


@dataclass(frozen=True, slots=True)
class HmacScheme:
    """HMAC of the raw body, or of `signed_content`, in a header of the source's choosing."""

    header: str = "X-Signature-256"
    prefix: str = "sha256="
    algorithm: Algorithm = "sha256"
    encoding: Encoding = "hex"
    timestamp_header: str | None = None
    timestamp_unit: TimestampUnit = "s"
    signed_content: str = "{body}"
    id_header: str | None = None
    id_field: str | None = None
    type_header: str | None = None
    type_field: str | None = None
    tolerance_s: int = 300
    provider: str = "hmac"

    def verify(self, headers: Headers, body: bytes, secrets: Sequence[bytes], now_s: float) -> int:
        value = require_header(headers, self.header.lower().encode()).strip()
        prefix = self.prefix.encode()
        if not value.startswith(prefix):
            raise MalformedHeader(f"{self.header} must start with {self.prefix!r}")
        candidate = value[len(prefix) :]
        if self.encoding == "hex":
            candidate = candidate.lower()
        timestamp = b""
        if self.timestamp_header is not None:
            timestamp = unix_header(
                headers, self.timestamp_header.lower().encode(), max_digits=11 if self.timestamp_unit == "s" else 14
            )
        signed = signed_content(self.signed_content, headers, body, timestamp, id_header=self.id_header)
        matched = matching_secret([self._encode(hmac_digest(self.algorithm, s, signed)) for s in secrets], [candidate])
        if self.timestamp_header is not None:
            check_timestamp(int(timestamp) / (1 if self.timestamp_unit == "s" else 1000), now_s, self.tolerance_s)
        return matched

    def sample(self, now_s: float, *, event_id: str, event_type: str | None) -> Sample:
        kind = event_type or "order.created"
        order = {"order_id": f"ord_{uuid.uuid4().hex[:12]}", "amount": 4200, "currency": "eur"}
        body = {"id": event_id, "type": kind, "created_at": utc_rfc3339(now_s), "data": order}
        return Sample(orjson.dumps(body), event_id, kind)

    def sign(self, body: bytes, secret: bytes, now_s: float, *, event_id: str, event_type: str) -> Delivery:
        """The source's header (and timestamp, id and type headers) for `body`, as its conventions say."""
        headers: dict[str, str] = {}
        timestamp = b""
        if self.timestamp_header is not None:
            timestamp = str(int(now_s if self.timestamp_unit == "s" else now_s * 1000)).encode()
            headers[self.timestamp_header] = timestamp.decode()
        if self.id_header is not None:
            headers[self.id_header] = event_id
        elif self.id_field is None and event_id:
            # Without an id of its own the scheme reads a delivery id header: a sender sends one.
            headers["Idempotency-Key"] = event_id
        if self.type_header is not None:
            headers[self.type_header] = event_type
        wire = {name.lower().encode(): value.encode() for name, value in headers.items()}
        signed = signed_content(self.signed_content, wire, body, timestamp, id_header=self.id_header)
        headers[self.header] = self.prefix + self._encode(hmac_digest(self.algorithm, secret, signed)).decode()
        return Delivery(body, headers)

    def describe(self, source: str, headers: Headers, body: bytes) -> Verified:
        payload = json_object(headers, body)
        return Verified(
            id=self._event_id(headers, payload) or fallback_event_id(source, body),
            type=self._event_type(headers, payload),
            payload_json=body,
            headers=kept_headers(headers, _KEPT_HEADERS),
        )

    def _event_id(self, headers: Headers, payload: JsonView) -> str | None:
        if self.id_header is not None:
            return event_id(headers.get(self.id_header.lower().encode()))
        if self.id_field is not None:
            return event_id(dig(payload, *self.id_field.split(".")))
        for name in _ID_HEADERS:
            found = event_id(headers.get(name))
            if found:
                return found
        return None

    def _event_type(self, headers: Headers, payload: JsonView) -> str:
        if self.type_header is not None:
            return text(event_id(headers.get(self.type_header.lower().encode())))
        if self.type_field is not None:
            return text(dig(payload, *self.type_field.split(".")))
        return text(payload.get("type")) or text(payload.get("event_type"))

    def _encode(self, digest: bytes) -> bytes:
        return digest.hex().encode() if self.encoding == "hex" else base64.b64encode(digest)
