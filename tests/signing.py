"""Signed requests for tests, produced the way each provider signs them.

Where the provider's SDK can sign (Stripe, Slack, Twilio, Paddle, HubSpot, Standard Webhooks), it signs here,
so our verifier is checked against the provider's code. Elsewhere the scheme's own signer signs
(`Signing.sign`, the one `send` uses; no second copy here), itself proven against the provider's published
vector (GitHub) or an independent signer written from the provider's docs (the specs, in test_specs.py).
"""

from __future__ import annotations

import base64
import hashlib
import time
import uuid
from datetime import UTC, datetime
from urllib.parse import parse_qsl

import nacl.signing
import orjson
import standardwebhooks
import stripe
import svix.webhooks
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from hubspot.utils.signature import Signature  # type: ignore[import-untyped]
from paddle_billing.Notifications.PaddleSignature import PaddleSignature  # type: ignore[import-untyped]
from slack_sdk.signature import SignatureVerifier
from twilio.request_validator import RequestValidator  # type: ignore[import-untyped]

from receiver.verify import GitHubScheme, HmacScheme, Signing
from receiver.verify.providers import scheme_for


def hmac_headers(body: bytes, secret: str, **extra: str) -> dict[str, str]:
    """The generic scheme's default, `X-Signature-256: sha256=<hex>`, signed by `HmacScheme.sign` (send's signer).

    Like a sender that names each delivery, it sends the body's top-level `id` as `Idempotency-Key` (the
    scheme reads the id from that header, never from the body, unless the source sets `id_field`).
    """
    signed = HmacScheme().sign(body, secret.encode(), time.time(), event_id=_body_id(body) or "", event_type="")
    return {"content-type": "application/json", **_lower(signed.headers), **extra}


def scheme_headers(
    provider: str,
    body: bytes,
    secret: str,
    *,
    event_id: str = "",
    event_type: str = "",
    now_s: float | None = None,
    public_url: str = "",
) -> dict[str, str]:
    """Signed by the built-in provider's own scheme (`Signing.sign`, send's signer)."""
    scheme = scheme_for(provider, tolerance_s=300, public_url=public_url)
    assert isinstance(scheme, Signing), f"{provider} has no signer"
    when = time.time() if now_s is None else now_s
    signed = scheme.sign(body, secret.encode(), when, event_id=event_id, event_type=event_type)
    assert signed.body == body
    return {"content-type": "application/json", **_lower(signed.headers)}


def _lower(headers: dict[str, str]) -> dict[str, str]:
    return {name.lower(): value for name, value in headers.items()}


def _body_id(body: bytes) -> str | None:
    try:
        payload = orjson.loads(body)
    except ValueError:
        return None
    found = payload.get("id") if isinstance(payload, dict) else None
    return str(found) if isinstance(found, (str, int)) and not isinstance(found, bool) and str(found) else None


def github_headers(body: bytes, secret: str, event: str, delivery: str | None = None) -> dict[str, str]:
    """Signed by `GitHubScheme.sign` (send's signer), itself checked against GitHub's published test vector."""
    signed = GitHubScheme().sign(
        body, secret.encode(), time.time(), event_id=delivery or str(uuid.uuid4()), event_type=event
    )
    return {"content-type": "application/json", **signed.headers, "user-agent": "GitHub-Hookshot/test"}


def stripe_headers(body: bytes, secret: str, timestamp: int | None = None) -> dict[str, str]:
    header = stripe.WebhookSignature.generate_signature_header(
        body.decode(), secret, timestamp=int(time.time()) if timestamp is None else timestamp
    )
    return {"content-type": "application/json; charset=utf-8", "stripe-signature": header}


# ------------------------------------------------------------------------------------------------------
# The other providers. Where the provider's SDK can sign, it signs here; where it can only verify
# (Square, SendGrid), tests/unit/receiver/verify/test_provider_sdks.py first proves the signer below with that verifier.


def slack_headers(
    body: bytes, secret: str, timestamp: int | None = None, content_type: str = "application/json"
) -> dict[str, str]:
    """Signed by slack_sdk's own `SignatureVerifier.generate_signature`."""
    stamp = str(int(time.time()) if timestamp is None else timestamp)
    signature = SignatureVerifier(secret).generate_signature(timestamp=stamp, body=body)
    assert signature is not None
    return {"content-type": content_type, "x-slack-request-timestamp": stamp, "x-slack-signature": signature}


def standard_headers(
    body: bytes, secret: str, msg_id: str, timestamp: int | None = None, *, svix_names: bool = False
) -> dict[str, str]:
    """Standard Webhooks headers signed by the `standardwebhooks` library (or `svix`'s, for svix-* names)."""
    when = datetime.fromtimestamp(int(time.time()) if timestamp is None else timestamp, UTC)
    if svix_names:
        signature = svix.webhooks.Webhook(secret).sign(msg_id, when, body.decode())
        prefix = "svix-"
    else:
        signature = standardwebhooks.Webhook(secret).sign(msg_id, when, body.decode())
        prefix = "webhook-"
    return {
        "content-type": "application/json",
        f"{prefix}id": msg_id,
        f"{prefix}timestamp": str(int(when.timestamp())),
        f"{prefix}signature": signature,
    }


def shopify_headers(body: bytes, secret: str, topic: str, webhook_id: str) -> dict[str, str]:
    # Shopify's Python SDK only checks OAuth HMACs: the spec's signer, proven in test_specs.py.
    signed = scheme_headers("shopify", body, secret, event_id=webhook_id, event_type=topic)
    return {**signed, "x-shopify-triggered-at": "2026-11-26T17:00:00.123456789Z"}


def twilio_headers(url: str, body: bytes, token: str, *, form: bool = True, sha256: bool = False) -> dict[str, str]:
    """Signed by twilio's `RequestValidator.compute_signature` (a JSON body through `bodySHA256`)."""
    validator = RequestValidator(token)
    algorithm = "HMAC_SHA256" if sha256 else None
    if form:
        params: dict[str, str] = dict(parse_qsl(body.decode(), keep_blank_values=True))
        signature = validator.compute_signature(url, params, algorithm)
        content_type = "application/x-www-form-urlencoded"
    else:
        signed_url = f"{url}{'&' if '?' in url else '?'}bodySHA256={hashlib.sha256(body).hexdigest()}"
        signature = validator.compute_signature(signed_url, {}, algorithm)
        content_type = "application/json"
    headers = {"content-type": content_type, "x-twilio-signature": signature, "i-twilio-idempotency-token": "it-1"}
    if sha256:
        headers["x-twilio-webhooks-signature-settings"] = "key=webhooks_sharedkey_1,algorithm=HMAC_SHA256"
    return headers


def paddle_headers(body: bytes, secret: str, timestamp: int | None = None) -> dict[str, str]:
    """Signed with paddle-python-sdk's `PaddleSignature.calculate_hmac` over `<ts>:<body>`."""
    stamp = int(time.time()) if timestamp is None else timestamp
    digest = PaddleSignature.calculate_hmac(secret, f"{stamp}:".encode() + body).hexdigest()
    return {"content-type": "application/json", "paddle-signature": f"ts={stamp};h1={digest}"}


def discord_headers(body: bytes, key: nacl.signing.SigningKey, timestamp: int | None = None) -> dict[str, str]:
    """Ed25519-signed with PyNaCl, as Discord signs."""
    stamp = str(int(time.time()) if timestamp is None else timestamp)
    signature = key.sign(stamp.encode() + body).signature.hex()
    return {"content-type": "application/json", "x-signature-ed25519": signature, "x-signature-timestamp": stamp}


def twitch_headers(
    body: bytes,
    secret: str,
    message_id: str,
    timestamp: int | None = None,
    message_type: str = "notification",
    subscription_type: str = "channel.follow",
) -> dict[str, str]:
    # Twitch publishes no SDK signer: the scheme's, built as Twitch's "Verifying the event message" describes.
    signed = scheme_headers("twitch", body, secret, event_id=message_id, event_type=subscription_type, now_s=timestamp)
    return {**signed, "twitch-eventsub-message-type": message_type}


def gitlab_headers(token: str, event: str = "Push Hook", idempotency_key: str = "idem-1") -> dict[str, str]:
    signed = scheme_headers("gitlab", b"", token, event_id=idempotency_key)
    return {**signed, "x-gitlab-event": event}


def hubspot_headers(url: str, body: bytes, secret: str, timestamp_ms: int | None = None) -> dict[str, str]:
    """Signed by hubspot-api-client's `Signature.get_signature` (v3)."""
    stamp = str(int(time.time() * 1000) if timestamp_ms is None else timestamp_ms)
    signature = Signature.get_signature(secret, body.decode(), "v3", http_uri=url, http_method="POST", timestamp=stamp)
    return {
        "content-type": "application/json",
        "x-hubspot-signature-v3": signature,
        "x-hubspot-request-timestamp": stamp,
    }


def square_headers(url: str, body: bytes, key: str) -> dict[str, str]:
    # Square's SDK only verifies: test_provider_sdks.py proves this signer with `square.utils.webhooks_helper`.
    return scheme_headers("square", body, key, public_url=url)


def linear_headers(body: bytes, secret: str, delivery: str) -> dict[str, str]:
    return scheme_headers("linear", body, secret, event_id=delivery)


def pagerduty_headers(body: bytes, *secrets: str) -> dict[str, str]:
    """One `v1=` per secret, as PagerDuty signs while a secret is rotated."""
    signatures = [scheme_headers("pagerduty", body, secret)["x-pagerduty-signature"] for secret in secrets]
    return {"content-type": "application/json", "x-pagerduty-signature": ",".join(signatures)}


def sendgrid_headers(body: bytes, key: ec.EllipticCurvePrivateKey, timestamp: int | None = None) -> dict[str, str]:
    # SendGrid's SDK only verifies: test_provider_sdks.py proves this signer with `sendgrid.EventWebhook`.
    stamp = str(int(time.time()) if timestamp is None else timestamp)
    signature = base64.b64encode(key.sign(stamp.encode() + body, ec.ECDSA(hashes.SHA256()))).decode()
    return {
        "content-type": "application/json",
        "x-twilio-email-event-webhook-signature": signature,
        "x-twilio-email-event-webhook-timestamp": stamp,
    }


def sendgrid_public_key(key: ec.EllipticCurvePrivateKey) -> str:
    """The verification key as SendGrid shows it: base64 DER SubjectPublicKeyInfo."""
    der = key.public_key().public_bytes(Encoding.DER, PublicFormat.SubjectPublicKeyInfo)
    return base64.b64encode(der).decode()


def mailgun_body(event_data: dict[str, object], key: str, timestamp: int | None = None) -> bytes:
    """A Mailgun JSON webhook body, signed by the scheme: the signature (of `<timestamp><token>`) travels inside."""
    scheme = scheme_for("mailgun", tolerance_s=300)
    assert isinstance(scheme, Signing)
    when = time.time() if timestamp is None else timestamp
    return scheme.sign(orjson.dumps({"event-data": event_data}), key.encode(), when, event_id="", event_type="").body


def typeform_headers(body: bytes, secret: str) -> dict[str, str]:
    return scheme_headers("typeform", body, secret)


def calendly_headers(body: bytes, key: str, timestamp: int | None = None) -> dict[str, str]:
    return scheme_headers("calendly", body, key, now_s=timestamp)


def websub_headers(body: bytes, secret: str, algorithm: str, **extra: str) -> dict[str, str]:
    """`X-Hub-Signature: <algorithm>=<hex>`: Intercom's (sha1) or Jira's (sha256)."""
    return {**scheme_headers({"sha1": "intercom", "sha256": "jira"}[algorithm], body, secret), **extra}
