"""Deliveries signed as SNS, PayPal, Plaid, Google Pub/Sub and Telnyx sign them, with keys the tests make.

Where the provider's SDK can sign, it signs (Google's `google.auth.jwt.encode`); where it can only verify
(Telnyx's `verify_webhook_signature`, PayPal's `_get_expected_sig` string, Google's `verify_oauth2_token`),
tests/unit/receiver/verify/test_keyed_providers.py runs that verifier on what is made here. Each function names the
provider document its format follows.
"""

from __future__ import annotations

import base64
import hashlib
import time
import uuid
import zlib
from datetime import UTC, datetime
from typing import Any

import jwt as pyjwt
import orjson
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat, PublicFormat
from google.auth import crypt as google_crypt
from google.auth import jwt as google_jwt

SNS_TOPIC = "arn:aws:sns:us-east-1:123456789012:agent-events"
# The keys and key hosts of the keyed providers (the tests serve them from tests/keyserver.py), and their events.
AWS_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
PAYPAL_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
GOOGLE_KEY, GOOGLE_ROTATED = (rsa.generate_private_key(public_exponent=65537, key_size=2048) for _ in range(2))
PLAID_KEY = ec.generate_private_key(ec.SECP256R1())
OTHER_RSA = rsa.generate_private_key(public_exponent=65537, key_size=2048)
SNS_CERT_PATH = "/SimpleNotificationService-0000000000000000000000.pem"
PAYPAL_CERT_PATH = "/v1/notifications/certs/CERT-360caa42-fca2a594-a5cafa77"
GOOGLE_CERTS_PATH = "/oauth2/v1/certs"
PLAID_KEY_PATH = "/webhook_verification_key/get"
WEBHOOK_ID = "8PT597110X687430LKGECATA"
AUDIENCE = "https://hooks.example.com/webhooks/pubsub"
PAYPAL_EVENT = orjson.dumps(
    {
        "id": "WH-58D329510W468432D-8HN650336L201105X",
        "create_time": "2026-11-30T17:00:00.000Z",
        "resource_type": "capture",
        "event_type": "PAYMENT.CAPTURE.COMPLETED",
        "summary": "Payment completed for $ 42.0 USD",
        "resource": {"id": "42311647XV020574X", "status": "COMPLETED", "amount": {"value": "42.00"}},
        "event_version": "1.0",
        "resource_version": "2.0",
    }
)
# Plaid API reference, "Transactions webhooks": SYNC_UPDATES_AVAILABLE.
PLAID_EVENT = orjson.dumps(
    {
        "webhook_type": "TRANSACTIONS",
        "webhook_code": "SYNC_UPDATES_AVAILABLE",
        "item_id": "wz666MBjYWTp2PDzzggYhM6oWWmBb",
        "initial_update_complete": True,
        "historical_update_complete": False,
        "environment": "production",
    }
)


def sns_body(
    key: rsa.RSAPrivateKey,
    cert_url: str,
    *,
    kind: str = "Notification",
    topic: str = SNS_TOPIC,
    version: str = "2",
    subscribe_url: str = "",
    subject: str | None = "order created",
    message: str = '{"order":"o_1","total":4200}',
) -> bytes:
    """An SNS HTTP/S delivery, signed as the SNS developer guide's "Verifying the signatures of Amazon SNS
    messages" describes (the example message layout from "HTTP/HTTPS notification JSON format")."""
    document: dict[str, Any] = {
        "Type": kind,
        "MessageId": str(uuid.uuid4()),
        "TopicArn": topic,
        "Message": message,
        "Timestamp": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z",
        "SignatureVersion": version,
        "SigningCertURL": cert_url,
    }
    if kind == "Notification":
        if subject is not None:
            document["Subject"] = subject
        document["UnsubscribeURL"] = "https://sns.us-east-1.amazonaws.com/?Action=Unsubscribe"
        names = ["Message", "MessageId", "Subject", "Timestamp", "TopicArn", "Type"]
    else:
        document["Token"] = "2336412f37fb687f5d51e6e2425dacbba" + "0" * 32
        document["SubscribeURL"] = subscribe_url
        names = ["Message", "MessageId", "SubscribeURL", "Timestamp", "Token", "TopicArn", "Type"]
    signed = "".join(f"{name}\n{document[name]}\n" for name in names if name in document)
    digest = hashes.SHA1() if version == "1" else hashes.SHA256()  # noqa: S303 (SNS SignatureVersion 1)
    document["Signature"] = base64.b64encode(key.sign(signed.encode(), padding.PKCS1v15(), digest)).decode()
    return orjson.dumps(document)


def sns_headers(body: bytes) -> dict[str, str]:
    document = orjson.loads(body)
    return {
        "content-type": "text/plain; charset=UTF-8",
        "x-amz-sns-message-type": document["Type"],
        "x-amz-sns-message-id": document["MessageId"],
        "x-amz-sns-topic-arn": document["TopicArn"],
        "user-agent": "Amazon Simple Notification Service Agent",
    }


def paypal_expected_string(transmission_id: str, time_sent: str, webhook_id: str, body: bytes) -> str:
    """`<transmission id>|<time>|<webhook id>|<CRC32 of the body>` (PayPal, "Integrate webhooks")."""
    return f"{transmission_id}|{time_sent}|{webhook_id}|{zlib.crc32(body)}"


def paypal_headers(
    body: bytes, key: rsa.RSAPrivateKey, cert_url: str, webhook_id: str, timestamp: int | None = None
) -> dict[str, str]:
    sent = datetime.fromtimestamp(time.time() if timestamp is None else timestamp, UTC)
    time_sent = sent.strftime("%Y-%m-%dT%H:%M:%SZ")
    transmission_id = str(uuid.uuid4())
    signed = paypal_expected_string(transmission_id, time_sent, webhook_id, body).encode()
    signature = key.sign(signed, padding.PKCS1v15(), hashes.SHA256())
    return {
        "content-type": "application/json",
        "paypal-transmission-id": transmission_id,
        "paypal-transmission-time": time_sent,
        "paypal-transmission-sig": base64.b64encode(signature).decode(),
        "paypal-cert-url": cert_url,
        "paypal-auth-algo": "SHA256withRSA",
    }


def plaid_jwk(key: ec.EllipticCurvePrivateKey, kid: str, *, expired: bool = False) -> dict[str, Any]:
    """A key as `/webhook_verification_key/get` returns it (Plaid API reference, "Webhook verification")."""
    numbers = key.public_key().public_numbers()

    def b64url(value: int) -> str:
        return base64.urlsafe_b64encode(value.to_bytes(32, "big")).rstrip(b"=").decode()

    return {
        "alg": "ES256",
        "created_at": 1_560_466_143,
        "crv": "P-256",
        "expired_at": 1_700_000_000 if expired else None,
        "kid": kid,
        "kty": "EC",
        "use": "sig",
        "x": b64url(numbers.x),
        "y": b64url(numbers.y),
    }


def plaid_headers(
    body: bytes,
    key: ec.EllipticCurvePrivateKey,
    kid: str,
    issued_at: int | None = None,
    body_for_hash: bytes | None = None,
) -> dict[str, str]:
    """`Plaid-Verification`: an ES256 JWT made with PyJWT, as Plaid's docs direct ("use a JWT library"),
    with the claims they list: `iat` and `request_body_sha256`."""
    claims = {
        "iat": int(time.time()) if issued_at is None else issued_at,
        "request_body_sha256": hashlib.sha256(body if body_for_hash is None else body_for_hash).hexdigest(),
    }
    token = pyjwt.encode(claims, key, algorithm="ES256", headers={"kid": kid})
    return {"content-type": "application/json", "plaid-verification": token}


def google_certs(keys: dict[str, bytes]) -> bytes:
    """`https://www.googleapis.com/oauth2/v1/certs`: key id to PEM certificate."""
    return orjson.dumps({kid: pem.decode() for kid, pem in keys.items()})


def pubsub_token(
    key: rsa.RSAPrivateKey,
    kid: str,
    audience: str,
    *,
    email: str = "push@agents-prod.iam.gserviceaccount.com",
    issued_at: int | None = None,
    issuer: str = "https://accounts.google.com",
    email_verified: bool = True,
) -> str:
    """A Pub/Sub push OIDC token, signed by Google's own library (`google.auth.jwt.encode`) with the claims
    of Pub/Sub's "Authenticate push subscriptions" example token."""
    now = int(time.time()) if issued_at is None else issued_at
    claims = {
        "aud": audience,
        "azp": "113774264463038321964",
        "email": email,
        "email_verified": email_verified,
        "exp": now + 3600,
        "iat": now,
        "iss": issuer,
        "sub": "113774264463038321964",
    }
    signer = google_crypt.RSASigner.from_string(_pem_private(key), key_id=kid)  # type: ignore[no-untyped-call]
    token: bytes = google_jwt.encode(signer, claims)  # type: ignore[no-untyped-call]
    return token.decode()


def pubsub_body(message_id: str = "136969346945", event_type: str | None = None) -> bytes:
    """A wrapped push delivery (Pub/Sub docs, "Receive messages": the push request body)."""
    attributes = {"eventType": event_type} if event_type else {"origin": "agents"}
    return orjson.dumps(
        {
            "message": {
                "attributes": attributes,
                "data": base64.b64encode(b'{"task":"summarize"}').decode(),
                "messageId": message_id,
                "message_id": message_id,
                "publishTime": "2026-11-30T17:00:00.123Z",
                "publish_time": "2026-11-30T17:00:00.123Z",
            },
            "subscription": "projects/agents-prod/subscriptions/agent-push",
        }
    )


def telnyx_public_key(key: Ed25519PrivateKey) -> str:
    """The public key as Telnyx's portal shows it: base64 of the 32 raw bytes."""
    return base64.b64encode(key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)).decode()


def telnyx_headers(body: bytes, key: Ed25519PrivateKey, timestamp: int | None = None) -> dict[str, str]:
    """`telnyx-signature-ed25519` over `<timestamp>|<body>` (Telnyx SDK, `webhook_verification.py`)."""
    stamp = str(int(time.time()) if timestamp is None else timestamp)
    signature = key.sign(stamp.encode() + b"|" + body)
    return {
        "content-type": "application/json",
        "telnyx-signature-ed25519": base64.b64encode(signature).decode(),
        "telnyx-timestamp": stamp,
    }


def _pem_private(key: rsa.RSAPrivateKey) -> bytes:
    return key.private_bytes(Encoding.PEM, PrivateFormat.PKCS8, NoEncryption())
