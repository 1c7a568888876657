"""Signed requests for tests, produced the way each provider signs them.

Stripe's headers come from Stripe's own SDK (`stripe.WebhookSignature.generate_signature_header`), so our
verifier is checked against the provider's code, not against itself. GitHub publishes no SDK signer for
Python; its documented test vector is checked in tests/unit/test_verify.py and the header is built here
exactly as GitHub's docs describe.
"""

from __future__ import annotations

import hashlib
import hmac
import time
import uuid

import stripe


def hmac_headers(body: bytes, secret: str, **extra: str) -> dict[str, str]:
    """The generic scheme: `X-Signature-256: sha256=<hex>` over the raw body."""
    digest = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return {"content-type": "application/json", "x-signature-256": f"sha256={digest}", **extra}


def github_headers(body: bytes, secret: str, event: str, delivery: str | None = None) -> dict[str, str]:
    digest = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return {
        "content-type": "application/json",
        "x-github-event": event,
        "x-github-delivery": delivery or str(uuid.uuid4()),
        "x-hub-signature-256": f"sha256={digest}",
        "user-agent": "GitHub-Hookshot/test",
    }


def stripe_headers(body: bytes, secret: str, timestamp: int | None = None) -> dict[str, str]:
    header = stripe.WebhookSignature.generate_signature_header(
        body.decode(), secret, timestamp=int(time.time()) if timestamp is None else timestamp
    )
    return {"content-type": "application/json; charset=utf-8", "stripe-signature": header}
