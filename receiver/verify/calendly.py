"""Calendly: `Calendly-Webhook-Signature: t=<unix seconds>,v1=<hex>`.

`v1` is an HMAC-SHA256 of `<t>.<raw body>` keyed with the webhook signing key; `t` must be within the
tolerance both ways (Calendly's docs use 3 minutes as the example). Calendly's payload has no event id,
so it is a SHA-256 of source and body (the same on retries, which resend the same body). Type: the body's
`event` (`invitee.created`). Occurred: `created_at`.
Reference: Calendly developer docs, "Webhook signatures".
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from receiver.verify.base import Headers, Verified
from receiver.verify.parsing import (
    check_json_content_type,
    check_timestamp,
    fallback_event_id,
    from_rfc3339,
    hmac_digest,
    kept_headers,
    matching_secret,
    parse_json_object,
    require_header,
    text,
    timestamp_and_signatures,
)

_SIGNATURE = b"calendly-webhook-signature"
_KEPT_HEADERS = (b"user-agent",)


@dataclass(frozen=True, slots=True)
class CalendlyScheme:
    tolerance_s: int = 300
    provider: str = "calendly"

    def verify(self, headers: Headers, body: bytes, secrets: Sequence[bytes], now_s: float) -> int:
        timestamp, candidates = timestamp_and_signatures(
            require_header(headers, _SIGNATURE), name="Calendly-Webhook-Signature"
        )
        signed = timestamp + b"." + body
        matched = matching_secret([hmac_digest("sha256", s, signed).hex().encode() for s in secrets], candidates)
        check_timestamp(int(timestamp), now_s, self.tolerance_s)
        return matched

    def describe(self, source: str, headers: Headers, body: bytes) -> Verified:
        check_json_content_type(headers)
        payload = parse_json_object(body)
        return Verified(
            id=fallback_event_id(source, body),
            type=text(payload.get("event")),
            payload_json=body,
            occurred_at=from_rfc3339(payload.get("created_at")),
            headers=kept_headers(headers, _KEPT_HEADERS),
        )
