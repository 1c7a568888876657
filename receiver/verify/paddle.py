"""Paddle Billing: `Paddle-Signature: ts=<unix seconds>;h1=<hex>[;h1=<hex>...]`.

Each `h1` is an HMAC-SHA256 of `<ts>:<raw body>`, keyed with the notification destination's whole secret
key (`pdl_ntfset_...`, used as is, prefix included). Paddle sends several `h1` values while a secret is
being rotated; any one matching any configured secret is enough. The timestamp must be within the
tolerance both ways (Paddle's SDK defaults to 5 seconds; retries are signed afresh, so the configured
`WEBHOOK_TOLERANCE_SECONDS` applies).
Event id: the body's `event_id` (`evt_...`, the same on retries). Type: `event_type`
(`transaction.completed`). Occurred: `occurred_at`.
Reference: Paddle docs, "Verify webhook signatures", and paddle-python-sdk's `PaddleSignature`/`Verifier`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from receiver.errors import BadRequest
from receiver.verify.base import Headers, Verified
from receiver.verify.parsing import (
    check_json_content_type,
    check_timestamp,
    event_id,
    from_rfc3339,
    hmac_digest,
    kept_headers,
    matching_secret,
    parse_json_object,
    require_header,
    text,
    timestamp_and_signatures,
)

_SIGNATURE = b"paddle-signature"
_KEPT_HEADERS = (b"user-agent",)


@dataclass(frozen=True, slots=True)
class PaddleScheme:
    tolerance_s: int = 300
    provider: str = "paddle"

    def verify(self, headers: Headers, body: bytes, secrets: Sequence[bytes], now_s: float) -> int:
        timestamp, signatures = timestamp_and_signatures(
            require_header(headers, _SIGNATURE),
            name="Paddle-Signature",
            separator=b";",
            timestamp_key=b"ts",
            signature_key=b"h1",
        )
        signed = timestamp + b":" + body
        matched = matching_secret([hmac_digest("sha256", s, signed).hex().encode() for s in secrets], signatures)
        check_timestamp(int(timestamp), now_s, self.tolerance_s)
        return matched

    def describe(self, source: str, headers: Headers, body: bytes) -> Verified:
        check_json_content_type(headers)
        payload = parse_json_object(body)
        found = event_id(payload.get("event_id"))
        if found is None:
            raise BadRequest("a Paddle notification must have an 'event_id'")
        return Verified(
            id=found,
            type=text(payload.get("event_type")),
            payload_json=body,
            occurred_at=from_rfc3339(payload.get("occurred_at")),
            headers=kept_headers(headers, _KEPT_HEADERS),
        )
