"""Twitch EventSub: `Twitch-Eventsub-Message-Signature: sha256=<hex>`.

An HMAC-SHA256, keyed with the subscription's secret, of `<message id><message timestamp><raw body>`,
from the `Twitch-Eventsub-Message-Id` and `Twitch-Eventsub-Message-Timestamp` headers (RFC 3339, with
nanoseconds). The timestamp must be within the tolerance both ways (Twitch's docs: reject anything older
than 10 minutes). Handshake: `Twitch-Eventsub-Message-Type: webhook_callback_verification` is answered
with the body's `challenge`, as `text/plain` (200).
Event id: `Twitch-Eventsub-Message-Id` (the same on a resend). Type: `Twitch-Eventsub-Subscription-Type`
(`channel.follow`) for notifications, `revocation` for a revoked subscription. Occurred: the message
timestamp.
Reference: Twitch docs, "Handling webhook events" (verifying the event message); twitchdev/twitch-cli
`internal/events/trigger/forward_event.go` (the signer).
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

import orjson

from receiver.errors import BadRequest, MalformedHeader
from receiver.verify.base import Delivery, Handshake, Headers, Sample, Verified
from receiver.verify.events import (
    event_id,
    from_rfc3339,
    json_object,
    kept_headers,
    parse_json_object,
    required_event_id,
    text,
)
from receiver.verify.parsing import (
    check_timestamp,
    hmac_digest,
    matching_secret,
    parse_rfc3339,
    require_header,
    utc_rfc3339,
)

_ID = b"twitch-eventsub-message-id"
_TIMESTAMP = b"twitch-eventsub-message-timestamp"
_SIGNATURE = b"twitch-eventsub-message-signature"
_MESSAGE_TYPE = b"twitch-eventsub-message-type"
_SUBSCRIPTION_TYPE = b"twitch-eventsub-subscription-type"
_PREFIX = b"sha256="
_KEPT_HEADERS = (
    _MESSAGE_TYPE,
    _SUBSCRIPTION_TYPE,
    b"twitch-eventsub-subscription-version",
    b"twitch-eventsub-message-retry",
    b"user-agent",
)


@dataclass(frozen=True, slots=True)
class TwitchScheme:
    tolerance_s: int = 300
    provider: str = "twitch"

    def verify(self, headers: Headers, body: bytes, secrets: Sequence[bytes], now_s: float) -> int:
        message_id = require_header(headers, _ID)
        timestamp = require_header(headers, _TIMESTAMP)
        signature = require_header(headers, _SIGNATURE).strip()
        sent_at = parse_rfc3339(timestamp, name="Twitch-Eventsub-Message-Timestamp")
        if not signature.startswith(_PREFIX):
            raise MalformedHeader("Twitch-Eventsub-Message-Signature must start with 'sha256='")
        signed = message_id + timestamp + body
        matched = matching_secret(
            [hmac_digest("sha256", s, signed).hex().encode() for s in secrets], [signature[len(_PREFIX) :].lower()]
        )
        check_timestamp(sent_at.timestamp(), now_s, self.tolerance_s)
        return matched

    def sample(self, now_s: float, *, event_id: str, event_type: str | None) -> Sample:
        """A notification of the subscription type `event_type` (`channel.follow` by default); Twitch's
        message ids are UUIDs, so `event_id` is not used."""
        kind = event_type or "channel.follow"
        subscription = {
            "id": str(uuid.uuid4()),
            "status": "enabled",
            "type": kind,
            "version": "2",
            "condition": {"broadcaster_user_id": "1337", "moderator_user_id": "1337"},
            "transport": {"method": "webhook", "callback": "https://hooks.example.com/webhooks/twitch"},
            "created_at": utc_rfc3339(int(now_s) - 86_400),
        }
        event = {
            "user_id": "1234",
            "user_login": "agent",
            "broadcaster_user_id": "1337",
            "followed_at": utc_rfc3339(now_s),
        }
        return Sample(orjson.dumps({"subscription": subscription, "event": event}), str(uuid.uuid4()), kind)

    def sign(self, body: bytes, secret: bytes, now_s: float, *, event_id: str, event_type: str) -> Delivery:
        """A notification's headers: `sha256=<hex>` over message id, timestamp (nanoseconds, as Twitch
        sends them) and body; `event_type` is the subscription type."""
        timestamp = datetime.fromtimestamp(now_s, UTC).strftime("%Y-%m-%dT%H:%M:%S.%f") + "000Z"
        signature = hmac_digest("sha256", secret, event_id.encode() + timestamp.encode() + body).hex()
        headers = {
            "twitch-eventsub-message-id": event_id,
            "twitch-eventsub-message-timestamp": timestamp,
            "twitch-eventsub-message-signature": f"sha256={signature}",
            "twitch-eventsub-message-type": "notification",
            "twitch-eventsub-subscription-type": event_type,
            "twitch-eventsub-subscription-version": "2",
        }
        return Delivery(body, headers)

    def handshake(self, headers: Headers, body: bytes) -> Handshake | None:
        if headers.get(_MESSAGE_TYPE) != b"webhook_callback_verification":
            return None
        challenge = parse_json_object(body).get("challenge")
        if not isinstance(challenge, str):
            raise BadRequest("a verification request must have a 'challenge'")
        return Handshake(challenge.encode(), content_type=b"text/plain; charset=utf-8")

    def describe(self, source: str, headers: Headers, body: bytes) -> Verified:
        json_object(headers, body)
        found = required_event_id(headers.get(_ID), "missing Twitch-Eventsub-Message-Id header")
        if headers.get(_MESSAGE_TYPE) == b"revocation":
            event_type = "revocation"
        else:
            event_type = text(event_id(headers.get(_SUBSCRIPTION_TYPE)))
        return Verified(
            id=found,
            type=event_type,
            payload_json=body,
            occurred_at=from_rfc3339(headers.get(_TIMESTAMP, b"").decode("latin-1")),
            headers=kept_headers(headers, _KEPT_HEADERS),
        )
