"""Telnyx (API v2 webhooks): an Ed25519 signature of `<telnyx-timestamp>|<raw body>`, base64.

`telnyx-signature-ed25519` holds the signature, `telnyx-timestamp` the unix seconds it was made, within the
tolerance both ways (Telnyx's SDK uses 300 s). The "secret" of a Telnyx source is the account's public key
as the Mission Control portal shows it (base64 of the 32 raw bytes); several are accepted, for rotation.
Body `{"data": {"record_type": "event", "id", "event_type", "occurred_at", "payload"}, "meta": {...}}`:
event id `data.id`, type `data.event_type` (`call.initiated`), occurred `data.occurred_at`.
Reference: Telnyx docs, "Webhook signing", and the SDK's `telnyx.lib.webhook_verification`
(`verify_webhook_signature`), which tests/unit/receiver/verify/test_provider_sdks.py runs against our signer.
"""

from __future__ import annotations

import base64
import binascii
import functools
from collections.abc import Sequence
from dataclasses import dataclass

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from receiver.errors import MalformedHeader
from receiver.verify.base import Headers, Verified
from receiver.verify.events import dig, from_rfc3339, json_object, kept_headers, required_event_id, text
from receiver.verify.parsing import check_timestamp, decode_base64, matching_key, require_header, unix_header

_SIGNATURE = b"telnyx-signature-ed25519"
_TIMESTAMP = b"telnyx-timestamp"
_SIGNATURE_BYTES = 64
_KEY_BYTES = 32
_KEPT_HEADERS = (b"user-agent",)


@dataclass(frozen=True, slots=True)
class TelnyxScheme:
    tolerance_s: int = 300
    provider: str = "telnyx"

    def check_secret(self, secret: bytes) -> None:
        """Raise `ValueError` unless the secret is an Ed25519 public key in base64."""
        _public_key(secret)

    def verify(self, headers: Headers, body: bytes, secrets: Sequence[bytes], now_s: float) -> int:
        signature = decode_base64(require_header(headers, _SIGNATURE).strip(), name="telnyx-signature-ed25519")
        timestamp = unix_header(headers, _TIMESTAMP)
        if len(signature) != _SIGNATURE_BYTES:
            raise MalformedHeader("telnyx-signature-ed25519 must be 64 bytes")
        signed = timestamp + b"|" + body
        matched = matching_key(secrets, lambda secret: _public_key(secret).verify(signature, signed))
        check_timestamp(int(timestamp), now_s, self.tolerance_s)
        return matched

    def describe(self, source: str, headers: Headers, body: bytes) -> Verified:
        payload = json_object(headers, body)
        found = required_event_id(dig(payload, "data", "id"), "a Telnyx event must have data.id")
        return Verified(
            id=found,
            type=text(dig(payload, "data", "event_type")),
            payload_json=body,
            occurred_at=from_rfc3339(dig(payload, "data", "occurred_at")),
            headers=kept_headers(headers, _KEPT_HEADERS),
        )


@functools.lru_cache(maxsize=64)
def _public_key(secret: bytes) -> Ed25519PublicKey:
    try:
        raw = base64.b64decode(secret, validate=True)
        if len(raw) != _KEY_BYTES:
            raise ValueError
        return Ed25519PublicKey.from_public_bytes(raw)
    except (binascii.Error, ValueError):
        raise ValueError("a Telnyx source's secret must be the account's Ed25519 public key, base64") from None
