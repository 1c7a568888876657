"""Linear: `Linear-Signature: <hex>`, an HMAC-SHA256 of the raw body keyed with the webhook's signing secret.

The time Linear signs is inside the body: `webhookTimestamp` (unix milliseconds), required, and checked
against the tolerance both ways after the signature: one minute, as Linear's SDK allows (or
`WEBHOOK_TOLERANCE_SECONDS` if smaller). Linear also sends a `Linear-Timestamp` header, but it is not signed:
Linear's own SDK ignores it and trusts only the body's field, and so does this scheme (it is kept in the
envelope's headers). The signature is compared as lower-case hex. Event id: `Linear-Delivery` (a UUID per
delivery), else a SHA-256 of source and body. Type: `<type>.<action>` (`Issue.create`). Occurred: `createdAt`.
Reference: linear/linear `packages/sdk/src/webhooks/client.ts` (`LinearWebhookClient.verify`) and its tests;
Linear docs, "Webhooks" (securing webhooks).
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass

import orjson

from receiver.errors import BadRequest, MalformedHeader, MissingHeader
from receiver.verify.base import Delivery, Headers, Sample, Verified
from receiver.verify.events import (
    event_id,
    fallback_event_id,
    from_rfc3339,
    json_object,
    kept_headers,
    parse_json_object,
    text,
)
from receiver.verify.parsing import check_timestamp, hmac_digest, matching_secret, require_header, utc_rfc3339

_SIGNATURE = b"linear-signature"
_MAX_TIMESTAMP_MS = 10**14
_KEPT_HEADERS = (b"linear-delivery", b"linear-event", b"linear-timestamp", b"user-agent")
# Linear's SDK (`LinearWebhookClient.verify`) refuses a webhookTimestamp more than a minute from now.
LINEAR_WINDOW_S = 60


@dataclass(frozen=True, slots=True)
class LinearScheme:
    tolerance_s: int = 300
    provider: str = "linear"

    def verify(self, headers: Headers, body: bytes, secrets: Sequence[bytes], now_s: float) -> int:
        candidate = require_header(headers, _SIGNATURE).strip().lower()
        matched = matching_secret([hmac_digest("sha256", s, body).hex().encode() for s in secrets], [candidate])
        try:
            stamp = parse_json_object(body).get("webhookTimestamp")
        except BadRequest:
            raise MalformedHeader("a signed Linear body must be a JSON object") from None
        if stamp is None:
            raise MissingHeader("missing webhookTimestamp")
        if isinstance(stamp, bool) or not isinstance(stamp, int) or not 0 <= stamp < _MAX_TIMESTAMP_MS:
            raise MalformedHeader("webhookTimestamp is not unix milliseconds")
        check_timestamp(stamp / 1000, now_s, min(self.tolerance_s, LINEAR_WINDOW_S))
        return matched

    def sample(self, now_s: float, *, event_id: str, event_type: str | None) -> Sample:
        """An `Issue.create` (or `event_type`, `<type>.<action>`) with the signed `webhookTimestamp`; Linear's
        delivery ids are UUIDs, so `event_id` is not used."""
        kind = event_type or "Issue.create"
        entity, _, action = kind.partition(".")
        issue = {"id": str(uuid.uuid4()), "identifier": "AGT-7", "title": "Summarise the incident", "priority": 2}
        body = {
            "action": action or "create",
            "type": entity,
            "createdAt": utc_rfc3339(now_s),
            "data": issue,
            "url": "https://linear.app/agents/issue/AGT-7",
            "webhookTimestamp": int(now_s * 1000),
            "webhookId": str(uuid.uuid4()),
        }
        return Sample(orjson.dumps(body), str(uuid.uuid4()), kind)

    def sign(self, body: bytes, secret: bytes, now_s: float, *, event_id: str, event_type: str) -> Delivery:
        """`Linear-Signature: <hex>` over the body (whose `webhookTimestamp` is the signed time); `event_id`
        is the `Linear-Delivery`."""
        headers = {"linear-signature": hmac_digest("sha256", secret, body).hex(), "linear-delivery": event_id}
        if event_type:
            headers["linear-event"] = event_type.partition(".")[0]
        return Delivery(body, headers)

    def describe(self, source: str, headers: Headers, body: bytes) -> Verified:
        payload = json_object(headers, body)
        kind, action = text(payload.get("type")), text(payload.get("action"))
        return Verified(
            id=event_id(headers.get(b"linear-delivery")) or fallback_event_id(source, body),
            type=f"{kind}.{action}" if kind and action else kind,
            payload_json=body,
            occurred_at=from_rfc3339(payload.get("createdAt")),
            headers=kept_headers(headers, _KEPT_HEADERS),
        )
