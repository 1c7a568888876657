"""Mailgun: the signature is in the JSON body, `signature: {timestamp, token, signature}`.

`signature` is the hex HMAC-SHA256 of `<timestamp><token>` keyed with the domain's HTTP webhook signing
key. Mailgun signs only those two values, not `event-data`: the window (the timestamp, unix seconds,
within the tolerance both ways) is what limits a captured signature's reuse, and a consumer that must be
sure should look the event up through Mailgun's API. Event id: `event-data.id`. Type: `event-data.event`
(`delivered`). Occurred: `event-data.timestamp` (float seconds).
Reference: Mailgun docs, "Securing webhooks" (verifying the signature).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from receiver.errors import BadRequest, MalformedHeader, MissingHeader
from receiver.verify.base import (
    Headers,
    Verified,
    check_json_content_type,
    check_timestamp,
    dig,
    event_id,
    fallback_event_id,
    from_unix,
    hmac_digest,
    kept_headers,
    matching_secret,
    parse_json_object,
    parse_unix,
    text,
)

_KEPT_HEADERS = (b"user-agent",)


@dataclass(frozen=True, slots=True)
class MailgunScheme:
    tolerance_s: int = 300
    provider: str = "mailgun"

    def verify(self, headers: Headers, body: bytes, secrets: Sequence[bytes], now_s: float) -> int:
        try:
            signature = parse_json_object(body).get("signature")
        except BadRequest:
            raise MalformedHeader("a Mailgun body must be a JSON object with a 'signature'") from None
        if not isinstance(signature, dict):
            raise MissingHeader("missing signature object")
        fields = [signature.get(name) for name in ("timestamp", "token", "signature")]
        if not all(isinstance(field, str) and field for field in fields):
            raise MissingHeader("signature needs timestamp, token and signature strings")
        timestamp, token, candidate = (str(field).encode("utf-8") for field in fields)
        parse_unix(timestamp, name="signature.timestamp")
        expected = [hmac_digest("sha256", s, timestamp + token).hex().encode() for s in secrets]
        matched = matching_secret(expected, [candidate.lower()])
        check_timestamp(int(timestamp), now_s, self.tolerance_s)
        return matched

    def describe(self, source: str, headers: Headers, body: bytes) -> Verified:
        check_json_content_type(headers)
        payload = parse_json_object(body)
        return Verified(
            id=event_id(dig(payload, "event-data", "id")) or fallback_event_id(source, body),
            type=text(dig(payload, "event-data", "event")),
            payload_json=body,
            occurred_at=from_unix(dig(payload, "event-data", "timestamp")),
            headers=kept_headers(headers, _KEPT_HEADERS),
        )
