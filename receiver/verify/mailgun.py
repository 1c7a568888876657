"""Mailgun: the signature is in the JSON body, `signature: {timestamp, token, signature[, parent-signature]}`.

`signature` is the hex HMAC-SHA256 of `<timestamp><token>` (no separator) keyed with the domain's HTTP webhook
signing key; for a subaccount's domain Mailgun adds `parent-signature`, the same HMAC keyed with the primary
account's key, so either may match a configured key. Mailgun signs only those two values, not `event-data`:
the window (the timestamp, unix seconds, within the tolerance both ways) is what limits a captured
signature's reuse, and a consumer that must be sure should look the event up through Mailgun's API. The
timestamp is a decimal string in Mailgun's examples and an `int` in its table; both are read. Event id:
`event-data.id`. Type: `event-data.event` (`delivered`). Occurred: `event-data.timestamp` (float seconds).
Reference: Mailgun docs, "Securing Webhooks"; mailgun/mailgun-go `VerifyWebhookSignature`.
"""

from __future__ import annotations

import secrets as token_source
import uuid
from collections.abc import Sequence
from dataclasses import dataclass

import orjson

from receiver.errors import BadRequest, MalformedHeader, MissingHeader
from receiver.verify.base import Delivery, Headers, Sample, Verified
from receiver.verify.events import (
    dig,
    event_id,
    fallback_event_id,
    from_unix,
    json_object,
    kept_headers,
    parse_json_object,
    text,
)
from receiver.verify.parsing import check_timestamp, hmac_digest, matching_secret, parse_unix

_KEPT_HEADERS = (b"user-agent",)
# Eleven digits of unix seconds, as `parse_unix` accepts.
_MAX_TIMESTAMP_S = 10**11


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
        timestamp = _timestamp_text(signature.get("timestamp"))
        token = signature.get("token")
        candidates = [
            value.encode("utf-8").lower()
            for value in (signature.get("signature"), signature.get("parent-signature"))
            if isinstance(value, str) and value
        ]
        if timestamp is None or not isinstance(token, str) or not token or not candidates:
            raise MissingHeader("signature needs timestamp, token and signature strings")
        parse_unix(timestamp, name="signature.timestamp")
        signed = timestamp + token.encode("utf-8")
        expected = [hmac_digest("sha256", s, signed).hex().encode() for s in secrets]
        matched = matching_secret(expected, candidates)
        check_timestamp(int(timestamp), now_s, self.tolerance_s)
        return matched

    def sample(self, now_s: float, *, event_id: str, event_type: str | None) -> Sample:
        """A `delivered` event (or `event_type`); `sign` adds the `signature` object."""
        kind = event_type or "delivered"
        data = {
            "id": event_id,
            "event": kind,
            "timestamp": round(now_s, 6),
            "recipient": "agent@example.com",
            "message": {"headers": {"message-id": f"{uuid.uuid4().hex}@mg.example.com"}},
        }
        return Sample(orjson.dumps({"event-data": data}), event_id, kind)

    def sign(self, body: bytes, secret: bytes, now_s: float, *, event_id: str, event_type: str) -> Delivery:
        """Mailgun signs inside the body: a `signature` object of timestamp, a fresh 50-character token and
        the hex HMAC-SHA256 of the two. Raises the `RequestError` verifying would for a body that is no JSON
        object."""
        payload = parse_json_object(body)
        timestamp, token = str(int(now_s)), token_source.token_hex(25)
        signature = hmac_digest("sha256", secret, (timestamp + token).encode()).hex()
        payload["signature"] = {"timestamp": timestamp, "token": token, "signature": signature}
        return Delivery(orjson.dumps(payload), {})

    def describe(self, source: str, headers: Headers, body: bytes) -> Verified:
        payload = json_object(headers, body)
        return Verified(
            id=event_id(dig(payload, "event-data", "id")) or fallback_event_id(source, body),
            type=text(dig(payload, "event-data", "event")),
            payload_json=body,
            occurred_at=from_unix(dig(payload, "event-data", "timestamp")),
            headers=kept_headers(headers, _KEPT_HEADERS),
        )


def _timestamp_text(value: object) -> bytes | None:
    """The signed timestamp as the bytes Mailgun signed: the string as sent, or an integer's decimal digits."""
    if isinstance(value, int) and not isinstance(value, bool):
        # Out of range becomes a value `parse_unix` refuses as malformed.
        return str(value).encode() if 0 <= value < _MAX_TIMESTAMP_S else b"-"
    if isinstance(value, str) and value:
        return value.encode("utf-8")
    return None
