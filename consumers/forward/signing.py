"""Standard Webhooks signatures, made as a sender makes them, so an agent verifies them with any Standard Webhooks
library (`standardwebhooks`, `svix`, or a few lines of its own).

A secret is `whsec_` and the base64 of a random key of at least 24 bytes. Each delivery carries three headers:
`webhook-id` (the same on every retry of an event), `webhook-timestamp` (unix seconds of this attempt) and
`webhook-signature`, a space-separated list of `v1,<base64 HMAC-SHA256 of "<id>.<timestamp>.<body>">`, one per
secret (several while a secret is rotated: the agent accepts any of them).

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
# The specification's smallest symmetric key: "Random. At least 24 bytes".
MIN_KEY_BYTES = 24
# A `webhook-id` is sent as it is when it is at most this long and made of visible ASCII other than `.`.
MAX_ID_CHARS = 256
_ID_CHARS = frozenset(chr(code) for code in range(0x21, 0x7F)) - {"."}


def signing_key(secret: str) -> bytes:
    """The HMAC key of a `whsec_<base64>` secret.

    Raises:
        ValueError: the secret is not one; the message never repeats it.
    """
    secret = secret.strip()
    if not secret.startswith(SECRET_PREFIX):
        raise ValueError(f"must start with {SECRET_PREFIX} (a Standard Webhooks secret)")
    encoded = secret[len(SECRET_PREFIX) :]
    try:
        # Padding is optional in the secrets other libraries generate; `validate` refuses anything but base64.
        key = base64.b64decode(encoded + "=" * (-len(encoded) % 4), validate=True)
    except (binascii.Error, ValueError):
        raise ValueError(f"must be {SECRET_PREFIX} followed by base64") from None
    if len(key) < MIN_KEY_BYTES:
        raise ValueError(f"the key after {SECRET_PREFIX} must be at least {MIN_KEY_BYTES} bytes (it is {len(key)})")
    return key


def message_id(idempotency_key: str) -> str:
    """The `webhook-id` of an event: its idempotency key, or, where that can't go into the header and the signed
    content unchanged, `sha256_` and its hex SHA-256 (the same on every retry all the same).

    The specification wants no `.` in the id (it separates the signed parts); a header value loses its outer
    spaces and carries only ASCII safely.
    """
    if 0 < len(idempotency_key) <= MAX_ID_CHARS and _ID_CHARS.issuperset(idempotency_key):
        return idempotency_key
    return "sha256_" + hashlib.sha256(idempotency_key.encode("utf-8", "surrogatepass")).hexdigest()


def signature(key: bytes, msg_id: str, timestamp: int, body: bytes) -> str:
    """One `v1,<base64>` signature of a delivery."""
    digest = hmac.new(key, f"{msg_id}.{timestamp}.".encode() + body, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def signed_headers(keys: Sequence[bytes], msg_id: str, timestamp: int, body: bytes) -> dict[str, str]:
    """The three Standard Webhooks headers of a delivery, signed with each key."""
    return {
        "webhook-id": msg_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": " ".join(signature(key, msg_id, timestamp, body) for key in keys),
    }
