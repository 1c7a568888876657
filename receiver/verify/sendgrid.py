"""SendGrid (Twilio SendGrid Event Webhook): an ECDSA P-256/SHA-256 signature, base64 DER.

`X-Twilio-Email-Event-Webhook-Signature` signs `<X-Twilio-Email-Event-Webhook-Timestamp><raw body>`; the
"secret" of a SendGrid source is the verification public key from the mail settings (base64 DER
SubjectPublicKeyInfo, as SendGrid shows it). The timestamp (unix seconds) must be within the tolerance
both ways. The body is a JSON array of events. Event id: the `sg_event_id` of a one-event batch, a SHA-256
of source and body for a batch. Type: the `event` the events share (`delivered`), else `batch`. Occurred:
the first event's `timestamp`.
Reference: Twilio SendGrid docs, "Getting Started with the Event Webhook Security Features", and
sendgrid's `EventWebhook.verify_signature`.
"""

from __future__ import annotations

import base64
import binascii
import functools
from collections.abc import Sequence
from dataclasses import dataclass

from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import load_der_public_key

from receiver.verify.base import Headers, Verified
from receiver.verify.events import EventBatch
from receiver.verify.parsing import check_timestamp, decode_base64, matching_key, require_header, unix_header

_SIGNATURE = b"x-twilio-email-event-webhook-signature"
_TIMESTAMP = b"x-twilio-email-event-webhook-timestamp"
_KEPT_HEADERS = (b"user-agent",)
_EVENTS = EventBatch(
    "SendGrid", id_key="sg_event_id", type_key="event", occurred_key="timestamp", kept_headers=_KEPT_HEADERS
)


@dataclass(frozen=True, slots=True)
class SendGridScheme:
    tolerance_s: int = 300
    provider: str = "sendgrid"

    def check_secret(self, secret: bytes) -> None:
        """Raise `ValueError` unless the secret is a base64 DER P-256 public key."""
        _public_key(secret)

    def verify(self, headers: Headers, body: bytes, secrets: Sequence[bytes], now_s: float) -> int:
        signature = decode_base64(require_header(headers, _SIGNATURE).strip(), name="the SendGrid signature")
        timestamp = unix_header(headers, _TIMESTAMP)
        signed = timestamp + body
        matched = matching_key(
            secrets, lambda secret: _public_key(secret).verify(signature, signed, ec.ECDSA(hashes.SHA256()))
        )
        check_timestamp(int(timestamp), now_s, self.tolerance_s)
        return matched

    def describe(self, source: str, headers: Headers, body: bytes) -> Verified:
        return _EVENTS.describe(source, headers, body)


@functools.lru_cache(maxsize=64)
def _public_key(secret: bytes) -> ec.EllipticCurvePublicKey:
    try:
        key = load_der_public_key(base64.b64decode(secret, validate=True))
    except (binascii.Error, ValueError, UnsupportedAlgorithm):
        key = None
    if not isinstance(key, ec.EllipticCurvePublicKey) or not isinstance(key.curve, ec.SECP256R1):
        raise ValueError("a SendGrid source's secret must be the base64 P-256 verification key")
    return key
