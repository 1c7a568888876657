"""Discord: an Ed25519 signature of `<X-Signature-Timestamp><raw body>` in `X-Signature-Ed25519` (hex).

The "secret" of a Discord source is the application's public key (64 hex characters, from the developer
portal); several are accepted, as for rotated secrets. The timestamp (unix seconds) must be within the
tolerance both ways. Two kinds of requests come signed this way:
- interactions (the body has a `token`): a PING (`{"type":1}`) is answered `{"type":1}` (200); others are
  published with the body's `id` as event id and type `interaction.<name>` (`interaction.application_command`).
- webhook events: a PING (`"type":0`) is answered with an empty 204, as Discord documents; an event
  (`"type":1`) is published with type `event.type` (`APPLICATION_AUTHORIZED`) and occurred `event.timestamp`.
  These carry no id, so a SHA-256 of source and body is the event id.
Reference: Discord docs, "Interactions: Receiving and Responding" (security and authorization) and
"Webhook Events" (preparing for events).
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from receiver.errors import MalformedHeader
from receiver.verify.base import Handshake, Headers, Verified
from receiver.verify.events import (
    dig,
    event_id,
    fallback_event_id,
    from_rfc3339,
    json_object,
    kept_headers,
    parse_json_object,
    text,
)
from receiver.verify.parsing import check_timestamp, matching_key, require_header, unix_header

_SIGNATURE = b"x-signature-ed25519"
_TIMESTAMP = b"x-signature-timestamp"
_SIGNATURE_BYTES = 64
# Interaction types (Discord docs, "Interaction Object: Interaction Type").
_INTERACTION_TYPES = {
    1: "ping",
    2: "application_command",
    3: "message_component",
    4: "application_command_autocomplete",
    5: "modal_submit",
}
_KEPT_HEADERS = (b"user-agent",)


@dataclass(frozen=True, slots=True)
class DiscordScheme:
    tolerance_s: int = 300
    provider: str = "discord"

    def check_secret(self, secret: bytes) -> None:
        """Raise `ValueError` unless the secret is an Ed25519 public key in hex."""
        _public_key(secret)

    def verify(self, headers: Headers, body: bytes, secrets: Sequence[bytes], now_s: float) -> int:
        signature = require_header(headers, _SIGNATURE).strip()
        timestamp = unix_header(headers, _TIMESTAMP)
        try:
            raw_signature = bytes.fromhex(signature.decode("ascii"))
        except (UnicodeDecodeError, ValueError):
            raise MalformedHeader("X-Signature-Ed25519 is not hex") from None
        if len(raw_signature) != _SIGNATURE_BYTES:
            raise MalformedHeader("X-Signature-Ed25519 must be 64 bytes")
        signed = timestamp + body
        matched = matching_key(secrets, lambda secret: _public_key(secret).verify(raw_signature, signed))
        check_timestamp(int(timestamp), now_s, self.tolerance_s)
        return matched

    def handshake(self, headers: Headers, body: bytes) -> Handshake | None:
        if b'"type"' not in body:
            return None
        payload = parse_json_object(body)
        kind = payload.get("type")
        if "token" in payload:
            return Handshake(b'{"type":1}') if kind == 1 else None
        return Handshake(b"", status=204) if kind == 0 else None

    def describe(self, source: str, headers: Headers, body: bytes) -> Verified:
        payload = json_object(headers, body)
        if "token" in payload:
            kind = payload.get("type")
            name = _INTERACTION_TYPES.get(kind, str(kind)) if isinstance(kind, int) else "unknown"
            found = event_id(payload.get("id"))
            return Verified(
                id=found or fallback_event_id(source, body),
                type=f"interaction.{name}",
                payload_json=body,
                headers=kept_headers(headers, _KEPT_HEADERS),
            )
        return Verified(
            id=fallback_event_id(source, body),
            type=text(dig(payload, "event", "type")),
            payload_json=body,
            occurred_at=from_rfc3339(dig(payload, "event", "timestamp")),
            headers=kept_headers(headers, _KEPT_HEADERS),
        )


@functools.lru_cache(maxsize=64)
def _public_key(secret: bytes) -> Ed25519PublicKey:
    try:
        return Ed25519PublicKey.from_public_bytes(bytes.fromhex(secret.decode("ascii")))
    except (UnicodeDecodeError, ValueError):
        raise ValueError("a Discord source's secret must be the application's Ed25519 public key, hex") from None
