"""The generic HMAC scheme: a keyed hash of the raw body in one header.

Default (the seed article's): `X-Signature-256: sha256=<hex>` over the raw body. A custom source can
name another header, prefix, hash (sha1, sha256, sha512) and encoding (hex, base64).

Event id: the body's `id` or `idempotency_key`, else the `Idempotency-Key` or `X-Event-Id` header, else a
SHA-256 of source and body. Type: the body's `type` or `event_type`.
"""

from __future__ import annotations

import base64
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from receiver.errors import SignatureError
from receiver.verify.base import (
    Headers,
    Verified,
    check_json_content_type,
    event_id,
    fallback_event_id,
    hmac_digest,
    matches_any,
    parse_json_object,
    require_header,
    text,
)

Algorithm = Literal["sha1", "sha256", "sha512"]
Encoding = Literal["hex", "base64"]

_ID_HEADERS = (b"idempotency-key", b"x-event-id")
_KEPT_HEADERS = (b"idempotency-key", b"x-event-id", b"user-agent")


@dataclass(frozen=True, slots=True)
class HmacScheme:
    """HMAC of the raw body, in a header of the source's choosing."""

    header: str = "X-Signature-256"
    prefix: str = "sha256="
    algorithm: Algorithm = "sha256"
    encoding: Encoding = "hex"
    provider: str = "hmac"

    def verify(self, headers: Headers, body: bytes, secrets: Sequence[bytes], now_s: float) -> None:
        value = require_header(headers, self.header.lower().encode()).strip()
        prefix = self.prefix.encode()
        if not value.startswith(prefix):
            raise SignatureError(f"{self.header} must start with {self.prefix!r}")
        candidate = value[len(prefix) :]
        if self.encoding == "hex":
            candidate = candidate.lower()
        if not matches_any((self._encode(hmac_digest(self.algorithm, s, body)) for s in secrets), [candidate]):
            raise SignatureError("signature does not match")

    def describe(self, source: str, headers: Headers, body: bytes) -> Verified:
        check_json_content_type(headers)
        payload = parse_json_object(body)
        found = event_id(payload.get("id")) or event_id(payload.get("idempotency_key"))
        for name in _ID_HEADERS:
            found = found or event_id(headers.get(name))
        return Verified(
            id=found or fallback_event_id(source, body),
            type=text(payload.get("type")) or text(payload.get("event_type")),
            payload_json=body,
            headers={name.decode(): headers[name].decode("latin-1") for name in _KEPT_HEADERS if name in headers},
        )

    def _encode(self, digest: bytes) -> bytes:
        return digest.hex().encode() if self.encoding == "hex" else base64.b64encode(digest)
