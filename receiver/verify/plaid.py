"""Plaid: an ES256 JWT in `Plaid-Verification`, signed with a key Plaid serves by key id.

Verification follows Plaid's "Verify webhooks" procedure (API reference, "Webhook verification"):
1. the JWT's header must say `alg: ES256`; its `kid` names the key;
2. the key comes from `POST /webhook_verification_key/get` (`client_id`, `secret`, `key_id`) on the
   source's Plaid environment, cached by key id; a key whose `expired_at` is set is refused;
3. the signature must verify with it, the claim `request_body_sha256` must equal the SHA-256 (hex) of the
   raw body, and `iat` must be within the tolerance (Plaid says 5 minutes; ours is both ways).

The "secret" of a Plaid source is the API credential that can fetch keys: `<client_id>:<secret>` for
production, `sandbox:<client_id>:<secret>` for the sandbox. Several are accepted, for rotation; the
position counted is the first credential whose environment's key verified the request.
Body `{"webhook_type", "webhook_code", "item_id", "environment", ...}`: no event id (a SHA-256 of source
and body stands in, so a retry is a duplicate), type `<webhook_type>.<webhook_code>`
(`TRANSACTIONS.SYNC_UPDATES_AVAILABLE`).
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import orjson

from receiver.errors import KeyUnavailable, SignatureError, UnknownKey
from receiver.verify import jwt
from receiver.verify.base import Headers, Verified
from receiver.verify.events import fallback_event_id, json_object, kept_headers, text
from receiver.verify.keys import HostAllowlist, KeyCache, KeyFetcher
from receiver.verify.parsing import check_timestamp, require_header

_VERIFICATION = b"plaid-verification"
_KEY_PATH = "/webhook_verification_key/get"
# Plaid's API hosts, one per environment (Plaid docs, "API environments").
PLAID_HOSTS = HostAllowlist(re.compile(r"(production|sandbox)\.plaid\.com"))
PLAID_ENVIRONMENTS: Mapping[str, str] = {
    "production": "https://production.plaid.com",
    "sandbox": "https://sandbox.plaid.com",
}
_KEPT_HEADERS = (b"user-agent",)


@dataclass(frozen=True, slots=True)
class _Credential:
    environment: str
    client_id: str
    secret: str


@dataclass(frozen=True, slots=True)
class _Key:
    public_key: jwt.PublicKey | None  # None: Plaid says the key has expired


@dataclass(frozen=True, slots=True)
class PlaidScheme:
    """Args:
    tolerance_s: the `iat` window.
    fetcher: fetches keys from Plaid's hosts (tests inject one for a local server).
    environments: environment name to API base URL (tests point them at the local server).
    """

    tolerance_s: int = 300
    provider: str = "plaid"
    fetcher: KeyFetcher = field(default_factory=lambda: KeyFetcher(PLAID_HOSTS))
    environments: Mapping[str, str] = field(default_factory=lambda: dict(PLAID_ENVIRONMENTS))
    keys: KeyCache[tuple[str, str], _Key] = field(default_factory=KeyCache, repr=False, compare=False)

    def check_secret(self, secret: bytes) -> None:
        """Raise `ValueError` unless the secret is `[environment:]client_id:secret`."""
        _credential(secret, self.environments)

    async def load_keys(self, headers: Headers, body: bytes, secrets: Sequence[bytes]) -> None:
        kid = jwt.parse_token(_token(headers), alg="ES256", name="Plaid-Verification").kid
        unavailable: KeyUnavailable | None = None
        found = False
        for secret in secrets:
            credential = _credential(secret, self.environments)
            try:
                await self.keys.get((credential.environment, kid), functools.partial(self._fetch, credential, kid))
            except UnknownKey:
                continue
            except KeyUnavailable as exc:
                unavailable = exc
                continue
            found = True
        if not found and unavailable is not None:
            raise unavailable

    async def _fetch(self, credential: _Credential, kid: str) -> _Key:
        request = orjson.dumps({"client_id": credential.client_id, "secret": credential.secret, "key_id": kid})
        response = await self.fetcher.post_json(self.environments[credential.environment] + _KEY_PATH, request)
        try:
            jwk = orjson.loads(response)["key"]
            expired = jwk.get("expired_at") is not None
            return _Key(None if expired else jwt.public_key_from_jwk(jwk))
        except (orjson.JSONDecodeError, KeyError, TypeError, AttributeError, ValueError):
            raise KeyUnavailable("Plaid's key response is not a JWK") from None

    def verify(self, headers: Headers, body: bytes, secrets: Sequence[bytes], now_s: float) -> int:
        token = jwt.parse_token(_token(headers), alg="ES256", name="Plaid-Verification")
        kid = token.kid
        matched = -1
        for position, secret in enumerate(secrets):
            key = self.keys.peek((_credential(secret, self.environments).environment, kid))
            if key is not None and key.public_key is not None and jwt.verify_signature(token, key.public_key):
                matched = position
                break
        if matched < 0:
            raise SignatureError("signature does not match")
        claimed = token.claims.get("request_body_sha256")
        actual = hashlib.sha256(body).hexdigest()
        if not isinstance(claimed, str) or not hmac.compare_digest(claimed.lower().encode(), actual.encode()):
            raise SignatureError("the body's SHA-256 is not the signed one")
        issued = token.claims.get("iat")
        if isinstance(issued, bool) or not isinstance(issued, int | float):
            raise SignatureError("the token has no iat")
        check_timestamp(issued, now_s, self.tolerance_s)
        return matched

    def describe(self, source: str, headers: Headers, body: bytes) -> Verified:
        payload = json_object(headers, body)
        kind, code = text(payload.get("webhook_type")), text(payload.get("webhook_code"))
        return Verified(
            id=fallback_event_id(source, body),
            type=f"{kind}.{code}" if kind and code else kind or code,
            payload_json=body,
            headers=kept_headers(headers, _KEPT_HEADERS),
        )


def _token(headers: Headers) -> bytes:
    return require_header(headers, _VERIFICATION).strip()


def _credential(secret: bytes, environments: Mapping[str, str]) -> _Credential:
    parts = secret.decode("ascii", "replace").split(":")
    if len(parts) == 2:
        parts = ["production", *parts]
    if len(parts) != 3 or parts[0] not in environments or not parts[1] or not parts[2]:
        raise ValueError(
            "a Plaid source's secret must be <client_id>:<secret> or <environment>:<client_id>:<secret> "
            f"(environments: {', '.join(environments)})"
        )
    return _Credential(*parts)
