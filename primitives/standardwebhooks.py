"""Standard Webhooks signatures: the receiver verifies them (`receiver.verify.standard`), the consumers'
forwarder signs deliveries with them (`consumers.forward`).

A secret is `whsec_` and the base64 of a random key. A signature is `v1,<base64 HMAC-SHA256 of
"<id>.<timestamp>.<body>">`, sent in `webhook-signature` (space-separated, one per secret while a secret is
rotated) with `webhook-id` and `webhook-timestamp` (unix seconds).

Reference: the Standard Webhooks specification 1.0.0 (standard-webhooks/standard-webhooks,
`spec/standard-webhooks.md`), "Signature scheme", "Webhook headers" and the secret format in its table of
symmetric and asymmetric signatures.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
from collections.abc import Sequence

SECRET_PREFIX = "whsec_"  # noqa: S105 - the prefix of every secret, not one
_PREFIX = SECRET_PREFIX.encode()


def secret_key(secret: bytes) -> bytes:
    """The HMAC key of a `whsec_<base64>` secret (a secret without the prefix is base64 as it is).

    Raises:
        ValueError: the secret is no base64; the message never repeats it.
    """
    encoded = secret[len(_PREFIX) :] if secret.startswith(_PREFIX) else secret
    try:
        # Padding is optional in the secrets other libraries generate; `validate` refuses anything but base64.
        return base64.b64decode(encoded + b"=" * (-len(encoded) % 4), validate=True)
    except (binascii.Error, ValueError):
        raise ValueError(f"a Standard Webhooks secret must be {SECRET_PREFIX} followed by base64") from None


def digest(key: bytes, msg_id: bytes, timestamp: bytes, body: bytes) -> bytes:
    """The HMAC-SHA256 of a delivery: what a `v1` signature carries in base64."""
    return hmac.digest(key, msg_id + b"." + timestamp + b"." + body, hashlib.sha256)


def signature(key: bytes, msg_id: str, timestamp: int, body: bytes) -> str:
    """One `v1,<base64>` signature of a delivery."""
    return "v1," + base64.b64encode(digest(key, msg_id.encode(), str(timestamp).encode(), body)).decode()


def signed_headers(
    keys: Sequence[bytes], msg_id: str, timestamp: int, body: bytes, *, prefix: str = "webhook-"
) -> dict[str, str]:
    """The three Standard Webhooks headers of a delivery, signed with each key (`prefix`: `svix-` for the names
    Svix, and the providers sending through it, give them)."""
    return {
        prefix + "id": msg_id,
        prefix + "timestamp": str(timestamp),
        prefix + "signature": " ".join(signature(key, msg_id, timestamp, body) for key in keys),
    }
