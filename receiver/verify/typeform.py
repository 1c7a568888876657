"""Typeform: `Typeform-Signature: sha256=<base64>`, an HMAC-SHA256 of the raw body keyed with the webhook secret.

No timestamp is signed: no replay window (replays are duplicates by event id). Event id: the body's
`event_id`. Type: `event_type` (`form_response`). Occurred: `form_response.submitted_at`.
Reference: Typeform developer docs, "Secure your webhooks".
"""

from __future__ import annotations

import base64
from collections.abc import Sequence
from dataclasses import dataclass

from receiver.errors import MalformedHeader
from receiver.verify.base import Headers, Verified
from receiver.verify.parsing import (
    check_json_content_type,
    dig,
    event_id,
    fallback_event_id,
    from_rfc3339,
    hmac_digest,
    kept_headers,
    matching_secret,
    parse_json_object,
    require_header,
    text,
)

_SIGNATURE = b"typeform-signature"
_PREFIX = b"sha256="
_KEPT_HEADERS = (b"user-agent",)


@dataclass(frozen=True, slots=True)
class TypeformScheme:
    provider: str = "typeform"

    def verify(self, headers: Headers, body: bytes, secrets: Sequence[bytes], now_s: float) -> int:
        value = require_header(headers, _SIGNATURE).strip()
        if not value.startswith(_PREFIX):
            raise MalformedHeader("Typeform-Signature must start with 'sha256='")
        expected = [base64.b64encode(hmac_digest("sha256", s, body)) for s in secrets]
        return matching_secret(expected, [value[len(_PREFIX) :]])

    def describe(self, source: str, headers: Headers, body: bytes) -> Verified:
        check_json_content_type(headers)
        payload = parse_json_object(body)
        return Verified(
            id=event_id(payload.get("event_id")) or fallback_event_id(source, body),
            type=text(payload.get("event_type")),
            payload_json=body,
            occurred_at=from_rfc3339(dig(payload, "form_response", "submitted_at")),
            headers=kept_headers(headers, _KEPT_HEADERS),
        )
