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

from receiver.errors import BadRequest, MalformedHeader
from receiver.verify.base import (
    Headers,
    Verified,
    check_json_content_type,
    check_timestamp,
    event_id,
    from_rfc3339,
    hmac_digest,
    kept_headers,
    matching_secret,
    parse_json_object,
    parse_unix,
    require_header,
    text,
)

_SIGNATURE = b"paddle-signature"
_MAX_SIGNATURES = 16
_KEPT_HEADERS = (b"user-agent",)


@dataclass(frozen=True, slots=True)
class PaddleScheme:
    tolerance_s: int = 300
    provider: str = "paddle"

    def verify(self, headers: Headers, body: bytes, secrets: Sequence[bytes], now_s: float) -> int:
        timestamp, signatures = _parse_header(require_header(headers, _SIGNATURE))
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


def _parse_header(value: bytes) -> tuple[bytes, list[bytes]]:
    timestamp: bytes | None = None
    signatures: list[bytes] = []
    for item in value.split(b";")[:_MAX_SIGNATURES]:
        key, sep, item_value = item.strip().partition(b"=")
        if not sep:
            raise MalformedHeader("Paddle-Signature entries must be key=value")
        if key == b"ts" and timestamp is None:
            timestamp = item_value
        elif key == b"h1":
            signatures.append(item_value.lower())
    if timestamp is None:
        raise MalformedHeader("Paddle-Signature has no ts=")
    parse_unix(timestamp, name="Paddle-Signature ts")
    if not signatures:
        raise MalformedHeader("Paddle-Signature has no h1 signature")
    return timestamp, signatures
