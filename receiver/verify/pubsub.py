"""Google Cloud Pub/Sub push: an OIDC token Google signs (RS256) in `Authorization: Bearer <JWT>`.

As Google's "Authenticate push subscriptions" guide and its library (`google.oauth2.id_token.
verify_oauth2_token`) check it:
- the key comes from Google's certificates, `https://www.googleapis.com/oauth2/v1/certs` (key id to X.509
  certificate), cached; a key id not in them fetches them again, at most once a minute;
- `iss` is `accounts.google.com` or `https://accounts.google.com`, `exp` is in the future and `iat` not
  (60 s of clock skew both), `aud` is the audience configured on the subscription;
- where the source names a service account, `email` must be it and `email_verified` true.

The "secret" of a Pub/Sub source is the audience, or `<audience>|<service account email>`; several are
accepted. Body (the default, wrapped delivery): `{"message": {"data", "messageId", "attributes",
"publishTime"}, "subscription"}`: event id `message.messageId`, type the `eventType` or `type` attribute
(Cloud Storage notifications set `eventType`), else `pubsub.message`; occurred `message.publishTime`.
Unwrapped ("no wrapper") deliveries carry no message id in the body and are refused (400).
"""

from __future__ import annotations

import hmac
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TypeGuard

import orjson
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import rsa

from receiver.errors import BadRequest, FutureTimestamp, KeyUnavailable, MalformedHeader, SignatureError, StaleTimestamp
from receiver.verify import jwt
from receiver.verify.base import Headers, Verified
from receiver.verify.events import dig, event_id, from_rfc3339, json_object, kept_headers, text
from receiver.verify.keys import HostAllowlist, KeyCache, KeyFetcher
from receiver.verify.parsing import require_header

GOOGLE_CERTS_URL = "https://www.googleapis.com/oauth2/v1/certs"
GOOGLE_HOSTS = HostAllowlist(re.compile(r"www\.googleapis\.com"))
_ISSUERS = (b"accounts.google.com", b"https://accounts.google.com")
# google-auth checks `exp` and `iat` with no skew by default; a minute absorbs ordinary clock drift.
CLOCK_SKEW_S = 60
_CERTS = "certs"
_KEPT_HEADERS = (b"user-agent",)


@dataclass(frozen=True, slots=True)
class _Expected:
    audience: bytes
    email: bytes | None


@dataclass(frozen=True, slots=True)
class PubSubScheme:
    """Args:
    fetcher: fetches Google's certificates (tests inject one for a local server).
    certs_url: where they are.
    """

    provider: str = "pubsub"
    fetcher: KeyFetcher = field(default_factory=lambda: KeyFetcher(GOOGLE_HOSTS))
    certs_url: str = GOOGLE_CERTS_URL
    keys: KeyCache[str, Mapping[str, rsa.RSAPublicKey]] = field(default_factory=KeyCache, repr=False, compare=False)

    def check_secret(self, secret: bytes) -> None:
        """Raise `ValueError` unless the secret is `<audience>` or `<audience>|<email>`."""
        _expected(secret)

    async def load_keys(self, headers: Headers, body: bytes, secrets: Sequence[bytes]) -> None:
        kid = _parse(headers).kid
        await self.keys.get_holding(_CERTS, self._fetch, lambda certs: kid in certs)

    async def _fetch(self) -> Mapping[str, rsa.RSAPublicKey]:
        response = await self.fetcher.get(self.certs_url)
        try:
            document = orjson.loads(response)
            keys = {}
            for kid, pem in document.items():
                key = x509.load_pem_x509_certificate(pem.encode()).public_key()
                if isinstance(key, rsa.RSAPublicKey):
                    keys[kid] = key
        except (orjson.JSONDecodeError, AttributeError, TypeError, ValueError):
            raise KeyUnavailable("Google's certificates are not a key id to PEM map") from None
        return keys

    def verify(self, headers: Headers, body: bytes, secrets: Sequence[bytes], now_s: float) -> int:
        token = _parse(headers)
        certs = self.keys.peek(_CERTS) or {}
        key = certs.get(token.kid)
        if key is None or not jwt.verify_signature(token, key):
            raise SignatureError("signature does not match")
        claims = token.claims
        if _claim(claims, "iss") not in _ISSUERS:
            raise SignatureError("the token is not Google's")
        expires, issued = claims.get("exp"), claims.get("iat")
        if not _is_number(expires) or not _is_number(issued):
            raise SignatureError("the token has no exp or iat")
        if now_s > expires + CLOCK_SKEW_S:
            raise StaleTimestamp(f"the token expired {int(now_s - expires)}s ago")
        if issued > now_s + CLOCK_SKEW_S:
            raise FutureTimestamp(f"the token is issued {int(issued - now_s)}s ahead")
        audience, email = _claim(claims, "aud"), _claim(claims, "email")
        verified_email = claims.get("email_verified") is True
        matched = -1
        for position, secret in enumerate(secrets):
            expected = _expected(secret)
            fits = hmac.compare_digest(expected.audience, audience)
            if expected.email is not None:
                fits = fits and verified_email and hmac.compare_digest(expected.email, email)
            if fits and matched < 0:
                matched = position
        if matched < 0:
            raise SignatureError("the token is for another audience or service account")
        return matched

    def describe(self, source: str, headers: Headers, body: bytes) -> Verified:
        payload = json_object(headers, body)
        found = event_id(dig(payload, "message", "messageId")) or event_id(dig(payload, "message", "message_id"))
        if found is None:
            raise BadRequest("a Pub/Sub push body must have message.messageId (a wrapped delivery)")
        attributes = dig(payload, "message", "attributes")
        kind = ""
        if isinstance(attributes, dict):
            kind = text(attributes.get("eventType")) or text(attributes.get("type"))
        return Verified(
            id=found,
            type=kind or "pubsub.message",
            payload_json=body,
            occurred_at=from_rfc3339(dig(payload, "message", "publishTime")),
            headers=kept_headers(headers, _KEPT_HEADERS),
        )


def _parse(headers: Headers) -> jwt.Token:
    value = require_header(headers, b"authorization").strip()
    scheme, _, token = value.partition(b" ")
    if scheme.lower() != b"bearer" or not token:
        raise MalformedHeader("Authorization is not a Bearer token")
    return jwt.parse_token(token.strip(), alg="RS256", name="the Pub/Sub token")


def _claim(claims: Mapping[str, object], name: str) -> bytes:
    value = claims.get(name)
    return value.encode() if isinstance(value, str) else b""


def _is_number(value: object) -> TypeGuard[int | float]:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _expected(secret: bytes) -> _Expected:
    audience, separator, email = secret.partition(b"|")
    if not audience or (separator and b"@" not in email):
        raise ValueError("a Pub/Sub source's secret must be <audience> or <audience>|<service account email>")
    return _Expected(audience, email if separator else None)
