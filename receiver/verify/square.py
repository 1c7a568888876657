"""Square: `X-Square-HmacSha256-Signature: <base64>`, an HMAC-SHA256 of `<notification URL><raw body>`.

Keyed with the subscription's signature key (used as is); the notification URL is the source's configured
`public_url`, exactly as entered in the Square Developer Console (so it works behind a proxy). Square
signs no timestamp: no replay window, replays are duplicates by event id. The legacy SHA-1
`X-Square-Signature` is not accepted.
Event id: the body's `event_id` (the same on retries). Type: `type` (`payment.updated`). Occurred:
`created_at`.
Reference: Square docs, "Validate notifications", and squareup's `verify_signature`.
"""

from __future__ import annotations

import base64
from collections.abc import Sequence
from dataclasses import dataclass

from receiver.errors import BadRequest
from receiver.verify.base import Headers, Verified
from receiver.verify.parsing import (
    check_json_content_type,
    event_id,
    from_rfc3339,
    hmac_digest,
    kept_headers,
    matching_secret,
    parse_json_object,
    require_header,
    text,
)

_SIGNATURE = b"x-square-hmacsha256-signature"
_KEPT_HEADERS = (b"square-version", b"square-initial-delivery-timestamp", b"square-retry-number", b"user-agent")


@dataclass(frozen=True, slots=True)
class SquareScheme:
    public_url: str
    provider: str = "square"

    def verify(self, headers: Headers, body: bytes, secrets: Sequence[bytes], now_s: float) -> int:
        candidate = require_header(headers, _SIGNATURE).strip()
        signed = self.public_url.encode() + body
        return matching_secret([base64.b64encode(hmac_digest("sha256", s, signed)) for s in secrets], [candidate])

    def describe(self, source: str, headers: Headers, body: bytes) -> Verified:
        check_json_content_type(headers)
        payload = parse_json_object(body)
        found = event_id(payload.get("event_id"))
        if found is None:
            raise BadRequest("a Square notification must have an 'event_id'")
        return Verified(
            id=found,
            type=text(payload.get("type")),
            payload_json=body,
            occurred_at=from_rfc3339(payload.get("created_at")),
            headers=kept_headers(headers, _KEPT_HEADERS),
        )
