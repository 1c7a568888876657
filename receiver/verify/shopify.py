"""Shopify: `X-Shopify-Hmac-Sha256: <base64>`, an HMAC-SHA256 of the raw body keyed with the app's secret.

Shopify signs no timestamp, so there is no replay window: a replay carries the same webhook id and is a
duplicate for the consumers. Event id: `X-Shopify-Webhook-Id` (one per delivery, the same on retries);
`X-Shopify-Event-Id` (shared by every delivery one merchant action produces, across topics and
subscriptions, so not an id here) is kept in the envelope's headers.
Type: `X-Shopify-Topic` (`orders/create`). Occurred: `X-Shopify-Triggered-At`.
Reference: shopify.dev "Webhooks delivery structure" (headers); Shopify/shopify-api-js
`lib/webhooks/validate.ts` (base64 HMAC-SHA256 of the raw body with the app's client secret).
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

_SIGNATURE = b"x-shopify-hmac-sha256"
_KEPT_HEADERS = (
    b"x-shopify-topic",
    b"x-shopify-shop-domain",
    b"x-shopify-api-version",
    b"x-shopify-webhook-id",
    b"x-shopify-event-id",
    b"x-shopify-triggered-at",
    b"user-agent",
)


@dataclass(frozen=True, slots=True)
class ShopifyScheme:
    provider: str = "shopify"

    def verify(self, headers: Headers, body: bytes, secrets: Sequence[bytes], now_s: float) -> int:
        candidate = require_header(headers, _SIGNATURE).strip()
        return matching_secret([base64.b64encode(hmac_digest("sha256", s, body)) for s in secrets], [candidate])

    def describe(self, source: str, headers: Headers, body: bytes) -> Verified:
        check_json_content_type(headers)
        parse_json_object(body)
        found = event_id(headers.get(b"x-shopify-webhook-id"))
        if found is None:
            raise BadRequest("missing X-Shopify-Webhook-Id header")
        triggered = headers.get(b"x-shopify-triggered-at", b"").decode("latin-1")
        return Verified(
            id=found,
            type=text(event_id(headers.get(b"x-shopify-topic"))),
            payload_json=body,
            occurred_at=from_rfc3339(triggered),
            headers=kept_headers(headers, _KEPT_HEADERS),
        )
