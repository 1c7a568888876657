"""PagerDuty (v3 webhooks): `X-PagerDuty-Signature: v1=<hex>[,v1=<hex>...]`.

Each `v1` is the hex HMAC-SHA256 of the raw body keyed with the subscription's secret; PagerDuty sends one per
signing secret, comma-separated, while a secret is rotated. Entries of another version are skipped, as
PagerDuty's own verifier does. No timestamp is signed: no replay window (replays are duplicates by event id).
Event id: `event.id`. Type: `event.event_type` (`incident.triggered`). Occurred: `event.occurred_at`.
Reference: PagerDuty developer docs, "Verifying Signatures" (`docs/webhooks/04-Signatures.md`);
PagerDuty/go-pagerduty `webhookv3/webhookv3.go`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from receiver.errors import BadRequest, MalformedHeader
from receiver.verify.base import Headers, Verified
from receiver.verify.parsing import (
    check_json_content_type,
    dig,
    event_id,
    from_rfc3339,
    hmac_digest,
    kept_headers,
    matching_secret,
    parse_json_object,
    require_header,
    signature_items,
    text,
)

_SIGNATURE = b"x-pagerduty-signature"
_KEPT_HEADERS = (b"x-webhook-id", b"x-webhook-subscription", b"user-agent")


@dataclass(frozen=True, slots=True)
class PagerDutyScheme:
    provider: str = "pagerduty"

    def verify(self, headers: Headers, body: bytes, secrets: Sequence[bytes], now_s: float) -> int:
        items = signature_items(require_header(headers, _SIGNATURE))
        candidates = [value.lower() for version, value in items if version == b"v1"]
        if not candidates:
            raise MalformedHeader("X-PagerDuty-Signature has no v1 signature")
        return matching_secret([hmac_digest("sha256", s, body).hex().encode() for s in secrets], candidates)

    def describe(self, source: str, headers: Headers, body: bytes) -> Verified:
        check_json_content_type(headers)
        payload = parse_json_object(body)
        found = event_id(dig(payload, "event", "id"))
        if found is None:
            raise BadRequest("a PagerDuty webhook must have an 'event.id'")
        return Verified(
            id=found,
            type=text(dig(payload, "event", "event_type")),
            payload_json=body,
            occurred_at=from_rfc3339(dig(payload, "event", "occurred_at")),
            headers=kept_headers(headers, _KEPT_HEADERS),
        )
