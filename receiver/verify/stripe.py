"""Stripe: `Stripe-Signature: t=<unix seconds>,v1=<hex>[,v1=<hex>...]`.

Each `v1` is an HMAC-SHA256, keyed with the endpoint secret (`whsec_...`, used as is), of
`<t>.<raw body>`. Stripe sends several `v1` values while an endpoint secret is being rolled; any one that
matches any configured secret is enough. The timestamp must be within the tolerance, in both directions,
checked after the signature so a forged request learns nothing about the window. `v0` (test-mode,
legacy) signatures are ignored. Event id: the body's `id` (`evt_...`); type: `type`; occurred: `created`.
Reference: Stripe docs, "Check the webhook signatures" (manual verification).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from receiver.errors import BadRequest, MalformedHeader
from receiver.verify.base import (
    Headers,
    Verified,
    check_json_content_type,
    check_timestamp,
    event_id,
    hmac_digest,
    matching_secret,
    parse_json_object,
    require_header,
    text,
)

_SIGNATURE = b"stripe-signature"
# Unix seconds fit in 11 digits until the year 5138; a longer value is not a timestamp.
_MAX_TIMESTAMP_DIGITS = 11
_KEPT_HEADERS = (b"user-agent",)


@dataclass(frozen=True, slots=True)
class StripeScheme:
    tolerance_s: int = 300
    provider: str = "stripe"

    def verify(self, headers: Headers, body: bytes, secrets: Sequence[bytes], now_s: float) -> int:
        timestamp, signatures = _parse_header(require_header(headers, _SIGNATURE))
        signed = timestamp + b"." + body
        matched = matching_secret([hmac_digest("sha256", s, signed).hex().encode() for s in secrets], signatures)
        check_timestamp(int(timestamp), now_s, self.tolerance_s)
        return matched

    def describe(self, source: str, headers: Headers, body: bytes) -> Verified:
        check_json_content_type(headers)
        payload = parse_json_object(body)
        found = event_id(payload.get("id"))
        if found is None:
            raise BadRequest("a Stripe event must have an 'id'")
        created = payload.get("created")
        occurred_at = None
        if isinstance(created, int) and not isinstance(created, bool) and 0 <= created < 10**_MAX_TIMESTAMP_DIGITS:
            occurred_at = datetime.fromtimestamp(created, UTC)
        return Verified(
            id=found,
            type=text(payload.get("type")),
            payload_json=body,
            occurred_at=occurred_at,
            headers={name.decode(): headers[name].decode("latin-1") for name in _KEPT_HEADERS if name in headers},
        )


def _parse_header(value: bytes) -> tuple[bytes, list[bytes]]:
    """The timestamp digits and the `v1` signatures (lower-case hex) of a Stripe-Signature header."""
    timestamp: bytes | None = None
    signatures: list[bytes] = []
    for item in value.split(b","):
        key, sep, item_value = item.strip().partition(b"=")
        if not sep:
            continue
        if key == b"t" and timestamp is None:
            timestamp = item_value
        elif key == b"v1":
            signatures.append(item_value.lower())
    if timestamp is None or not (timestamp.isdigit() and len(timestamp) <= _MAX_TIMESTAMP_DIGITS):
        raise MalformedHeader("Stripe-Signature has no valid t= timestamp")
    if not signatures:
        raise MalformedHeader("Stripe-Signature has no v1 signature")
    return timestamp, signatures
