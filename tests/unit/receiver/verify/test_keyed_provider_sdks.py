"""The keyed and asymmetric schemes against the providers' own code, on the same bytes our verifiers see.

- Telnyx: the SDK's `telnyx.lib.webhook_verification.verify_webhook_signature` accepts what our test
  signer makes, and refuses what ours refuses.
- Google Pub/Sub: tokens are signed by Google's library (`google.auth.jwt.encode`), and Google's
  `google.oauth2.id_token.verify_oauth2_token` (what Pub/Sub's guide uses) accepts the very token and
  certificates document our scheme accepts.
- PayPal: the string PayPal's SDK builds (`paypalrestsdk` `WebhookEvent._get_expected_sig`) is the one our
  verifier checks the signature over (the SDK's own RSA check needs a pyOpenSSL API removed in 24.3).
- Plaid publishes no verifier: its docs say to use a JWT library, so the token is made with PyJWT, and
  PyJWT verifies it with the JWK our scheme turned into a key.
- SNS has no Python SDK verifier: the string signed follows the SNS developer guide (see keyed_signing.py).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import jwt as pyjwt
import orjson
import pytest
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from google.auth import transport
from google.oauth2 import id_token
from paypalrestsdk.notifications import WebhookEvent  # type: ignore[import-untyped]

from receiver.errors import SignatureError
from receiver.verify import TelnyxScheme
from receiver.verify import jwt as our_jwt
from receiver.verify.paypal import PayPalScheme
from tests.keyed_signing import (
    google_certs,
    paypal_expected_string,
    paypal_headers,
    plaid_headers,
    plaid_jwk,
    pubsub_token,
    telnyx_headers,
    telnyx_public_key,
)
from tests.keyserver import signing_certificate

TELNYX_KEY = Ed25519PrivateKey.from_private_bytes(b"t" * 32)
BODY = b'{"data":{"event_type":"call.hangup","id":"e-1","occurred_at":"2026-11-30T17:00:00Z","payload":{}}}'


def _h(headers: dict[str, str]) -> dict[bytes, bytes]:
    return {name.encode(): value.encode() for name, value in headers.items()}


@pytest.mark.parametrize("tamper", [False, True])
def test_telnyx_sdk_and_our_verifier_agree(tamper: bool) -> None:
    # Imported here: the Telnyx client takes seconds to import, and only this test needs it.
    from telnyx.lib.webhook_verification import WebhookVerificationError, verify_webhook_signature

    headers = telnyx_headers(BODY, TELNYX_KEY)
    body = BODY.replace(b"hangup", b"hangop") if tamper else BODY
    public = telnyx_public_key(TELNYX_KEY)
    scheme = TelnyxScheme()
    if tamper:
        with pytest.raises(WebhookVerificationError):
            verify_webhook_signature(body, headers, public)
        with pytest.raises(SignatureError):
            scheme.verify(_h(headers), body, (public.encode(),), time.time())
    else:
        verify_webhook_signature(body, headers, public)
        assert scheme.verify(_h(headers), body, (public.encode(),), time.time()) == 0


@dataclass
class _Response:
    status: int
    data: bytes
    headers: dict[str, str]


class _CertsRequest(transport.Request):
    """google-auth's transport interface, answering the certificates request with our document."""

    def __init__(self, document: bytes) -> None:
        self.document = document
        self.urls: list[str] = []

    def __call__(self, url: str, method: str = "GET", **kwargs: Any) -> _Response:  # type: ignore[override]
        self.urls.append(url)
        return _Response(200, self.document, {})


def test_google_verifies_the_pubsub_token_our_scheme_accepts() -> None:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    audience = "https://hooks.example.com/webhooks/pubsub"
    token = pubsub_token(key, "g1", audience)
    request = _CertsRequest(google_certs({"g1": signing_certificate(key, "accounts.google.com")}))
    claims = id_token.verify_oauth2_token(token, request, audience=audience)  # type: ignore[no-untyped-call]
    assert request.urls == ["https://www.googleapis.com/oauth2/v1/certs"]
    assert claims["email"] == "push@agents-prod.iam.gserviceaccount.com"
    parsed = our_jwt.parse_token(token.encode(), alg="RS256", name="token")
    assert parsed.kid == "g1"
    assert our_jwt.verify_signature(parsed, key.public_key())
    other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    assert not our_jwt.verify_signature(parsed, other.public_key())


async def test_paypal_sdk_builds_the_string_our_verifier_checks() -> None:
    body = b'{"id":"WH-1","event_type":"PAYMENT.CAPTURE.COMPLETED","resource":{"note":"caf\xc3\xa9"}}'
    sdk_string = WebhookEvent._get_expected_sig("t-1", "2026-11-30T17:00:00Z", "WEBHOOK1", body.decode())
    assert sdk_string == paypal_expected_string("t-1", "2026-11-30T17:00:00Z", "WEBHOOK1", body)
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    url = "https://api.paypal.com/v1/notifications/certs/CERT-1"
    headers = paypal_headers(body, key, url, "WEBHOOK1")
    scheme = PayPalScheme()

    async def certificate() -> rsa.RSAPublicKey:
        return key.public_key()

    await scheme.keys.get(url, certificate)  # as if fetched from PAYPAL-CERT-URL
    assert scheme.verify(_h(headers), body, (b"OTHERWEBHOOK", b"WEBHOOK1"), time.time()) == 1


def test_pyjwt_verifies_the_plaid_token_with_the_key_our_scheme_reads_from_the_jwk() -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    headers = plaid_headers(b"{}", key, "k1")
    public = our_jwt.public_key_from_jwk(plaid_jwk(key, "k1"))
    assert isinstance(public, ec.EllipticCurvePublicKey)
    claims = pyjwt.decode(headers["plaid-verification"], public, algorithms=["ES256"])
    assert set(claims) == {"iat", "request_body_sha256"}
    parsed = our_jwt.parse_token(headers["plaid-verification"].encode(), alg="ES256", name="token")
    assert our_jwt.verify_signature(parsed, public)
    assert orjson.loads(our_jwt.b64url(headers["plaid-verification"].split(".")[0].encode(), name="h"))["kid"] == "k1"
