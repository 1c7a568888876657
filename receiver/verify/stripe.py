"""Stripe: `Stripe-Signature: t=<unix seconds>,v1=<hex>[,v1=<hex>...]`.

Each `v1` is an HMAC-SHA256, keyed with the endpoint secret (`whsec_...`, used as is), of
`<t>.<raw body>`. Stripe sends several `v1` values while an endpoint secret is being rolled; any one that
matches any configured secret is enough. The timestamp must be within the tolerance, in both directions,
checked after the signature so a forged request learns nothing about the window. `v0` (test-mode,
legacy) signatures are ignored. Event id: the body's `id` (`evt_...`); type: `type`; occurred: `created`;
subject: `data.object.id`, the object the event is about.
Reference: Stripe docs, "Check the webhook signatures" (manual verification).
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass

import orjson

from receiver.verify.base import Delivery, Headers, Sample, Verified
from receiver.verify.events import dig, from_unix, json_object, kept_headers, required_event_id, subject, text
from receiver.verify.parsing import (
    check_timestamp,
    hmac_digest,
    matching_secret,
    require_header,
    timestamp_and_signatures,
)

_SIGNATURE = b"stripe-signature"
_KEPT_HEADERS = (b"user-agent",)


@dataclass(frozen=True, slots=True)
class StripeScheme:
    tolerance_s: int = 300
    provider: str = "stripe"

    def verify(self, headers: Headers, body: bytes, secrets: Sequence[bytes], now_s: float) -> int:
        timestamp, signatures = timestamp_and_signatures(require_header(headers, _SIGNATURE), name="Stripe-Signature")
        signed = timestamp + b"." + body
        matched = matching_secret([hmac_digest("sha256", s, signed).hex().encode() for s in secrets], signatures)
        check_timestamp(int(timestamp), now_s, self.tolerance_s)
        return matched

    def sample(self, now_s: float, *, event_id: str, event_type: str | None) -> Sample:
        kind = event_type or "payment_intent.succeeded"
        intent = {
            "id": f"pi_{uuid.uuid4().hex[:24]}",
            "object": "payment_intent",
            "amount": 4200,
            "currency": "eur",
            "status": "succeeded",
            "customer": "cus_" + uuid.uuid4().hex[:14],
        }
        event = {
            "id": event_id,
            "object": "event",
            "api_version": "2024-06-20",
            "created": int(now_s),
            "type": kind,
            "livemode": False,
            "pending_webhooks": 1,
            "request": {"id": None, "idempotency_key": None},
            "data": {"object": intent},
        }
        return Sample(orjson.dumps(event), event_id, kind, "application/json; charset=utf-8")

    def sign(self, body: bytes, secret: bytes, now_s: float, *, event_id: str, event_type: str) -> Delivery:
        """`Stripe-Signature: t=<unix>,v1=<hex>` over `<t>.<body>`, keyed with the `whsec_` secret as is."""
        timestamp = int(now_s)
        digest = hmac_digest("sha256", secret, f"{timestamp}.".encode() + body).hex()
        return Delivery(body, {"stripe-signature": f"t={timestamp},v1={digest}"})

    def describe(self, source: str, headers: Headers, body: bytes) -> Verified:
        payload = json_object(headers, body)
        found = required_event_id(payload.get("id"), "a Stripe event must have an 'id'")
        return Verified(
            id=found,
            type=text(payload.get("type")),
            payload_json=body,
            occurred_at=from_unix(payload.get("created")),
            headers=kept_headers(headers, _KEPT_HEADERS),
            subject=subject(dig(payload, "data", "object", "id")),
        )
