"""What a sender adds to the Standard Webhooks signature (`primitives.standardwebhooks`), so an agent verifies a
delivery with any Standard Webhooks library (`standardwebhooks`, `svix`, or a few lines of its own): secrets
held to the specification's smallest key, and a `webhook-id` (the same on every retry of an event) that fits
the header and the signed content.

Reference: the Standard Webhooks specification 1.0.0 (standard-webhooks/standard-webhooks,
`spec/standard-webhooks.md`), "Signature scheme", "Webhook headers" and the secret format in its table of
symmetric and asymmetric signatures.
"""

from __future__ import annotations

import hashlib

from primitives.standardwebhooks import SECRET_PREFIX, secret_key

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
    key = secret_key(secret.encode())
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
