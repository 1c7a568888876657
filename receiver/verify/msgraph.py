"""Microsoft Graph change notifications (Outlook, Teams, SharePoint, OneDrive): no signature, a `clientState`.

A subscription is created with a `clientState` of your choosing (the source's secret); every item of a
notification's `value` carries it back, compared in constant time, and every item must carry the same one.
Graph first validates the URL with `POST ?validationToken=…`, answered with the token as text within 10 s
(the `validation_token` handshake). Lifecycle notifications (`reauthorizationRequired`, `missed`,
`subscriptionRemoved`) come the same way. TLS protects the body.
Rich notifications (with resource data) also carry `validationTokens`, JWTs Microsoft signs (RS256, keys
at `login.microsoftonline.com/common/discovery/v2.0/keys`, fetched and cached by `KeyFetcher`): where the
secret names the subscribing app, `<clientState>|<app id>`, every token must verify, with `aud` the app id,
`azp` Microsoft Graph's change-tracking app, `iss` `https://sts.windows.net/<tenantId>/` of the
notification's tenant, and `exp`/`nbf` current (60 s of skew); a notification with `encryptedContent` and
no tokens is refused. With a bare clientState the tokens are not checked.
Event id: none is sent, so a SHA-256 of source and body. Type: the first item's `lifecycleEvent`, else its
`changeType` (`created`, `updated`, `deleted`).
Reference: Microsoft Graph docs, "Receive change notifications through webhooks" (clientState, validation)
and "Set up change notifications that include resource data" (validating the validation tokens).
"""

from __future__ import annotations

import hmac
import re
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import orjson

from receiver.errors import KeyUnavailable, MalformedHeader, MissingHeader, SignatureError, StaleTimestamp
from receiver.verify import jwt
from receiver.verify.base import Delivery, HandshakeRule, Headers, Sample, Verified
from receiver.verify.events import check_json_content_type, fallback_event_id, parse_json, signed_list, text
from receiver.verify.handshakes import ValidationToken
from receiver.verify.keys import HostAllowlist, KeyCache, KeyFetcher
from receiver.verify.parsing import utc_rfc3339

_MAX_ITEMS = 1000
MICROSOFT_KEYS_URL = "https://login.microsoftonline.com/common/discovery/v2.0/keys"
MICROSOFT_HOSTS = HostAllowlist(re.compile(r"login\.microsoftonline\.com"))
# The `azp` of every validation token: Microsoft Graph's change-tracking application.
GRAPH_CHANGE_TRACKING_APP_ID = "0bf30f3b-4a52-48df-9a82-234910c4a086"
CLOCK_SKEW_S = 60
_KEYS = "keys"
# One token per app and tenant of the batch: a few.
_MAX_TOKENS = 16


@dataclass(frozen=True, slots=True)
class MsGraphScheme:
    """Args:
    fetcher: fetches Microsoft's signing keys (tests inject one for a local server).
    keys_url: where they are.
    """

    provider: str = "msgraph"
    fetcher: KeyFetcher = field(default_factory=lambda: KeyFetcher(MICROSOFT_HOSTS))
    keys_url: str = MICROSOFT_KEYS_URL
    keys: KeyCache[str, Mapping[str, jwt.PublicKey]] = field(default_factory=KeyCache, repr=False, compare=False)

    @property
    def handshakes(self) -> tuple[HandshakeRule, ...]:
        return (ValidationToken(kind="validation_token"),)

    def check_secret(self, secret: bytes) -> None:
        """Raise `ValueError` unless the secret is `<clientState>` or `<clientState>|<app id>`."""
        _parts(secret)

    async def load_keys(self, headers: Headers, body: bytes, secrets: Sequence[bytes]) -> None:
        if not any(_parts(secret)[1] for secret in secrets) or b"validationTokens" not in body:
            return
        kids = {_token(value).kid for value in _tokens(body)}
        await self.keys.get_holding(_KEYS, self._fetch, lambda keys: kids <= set(keys))

    async def _fetch(self) -> Mapping[str, jwt.PublicKey]:
        response = await self.fetcher.get(self.keys_url)
        try:
            document = orjson.loads(response)
            keys = {}
            for jwk in document["keys"]:
                try:
                    keys[str(jwk["kid"])] = jwt.public_key_from_jwk(jwk)
                except (KeyError, ValueError):
                    continue
        except (orjson.JSONDecodeError, KeyError, TypeError):
            raise KeyUnavailable("Microsoft's signing keys are not a JWKS") from None
        return keys

    def verify(self, headers: Headers, body: bytes, secrets: Sequence[bytes], now_s: float) -> int:
        matched = -1
        items = _items(body)
        for item in items:
            state = item.get("clientState")
            if not isinstance(state, str) or not state:
                raise MissingHeader("missing clientState")
            found = -1
            for position, secret in enumerate(secrets):
                if hmac.compare_digest(state.encode(), _parts(secret)[0]) and found < 0:
                    found = position
            if found < 0:
                raise SignatureError("clientState does not match")
            if matched not in (-1, found):
                raise SignatureError("the items of one notification carry different clientStates")
            matched = found
        app_id = _parts(secrets[matched])[1]
        if app_id:
            self._check_tokens(body, items, app_id, now_s)
        return matched

    def _check_tokens(self, body: bytes, items: list[dict[str, Any]], app_id: bytes, now_s: float) -> None:
        """Every validation token signed by Microsoft for this app and the notification's tenant, and current."""
        tokens = _tokens(body)
        if not tokens:
            if any("encryptedContent" in item for item in items):
                raise SignatureError("a notification with resource data must carry validationTokens")
            return
        issuers = {f"https://sts.windows.net/{item.get('tenantId')}/".encode() for item in items}
        keys = self.keys.peek(_KEYS) or {}
        for value in tokens:
            token = _token(value)
            key = keys.get(token.kid)
            if key is None or not jwt.verify_signature(token, key):
                raise SignatureError("a validation token's signature does not match")
            claims = token.claims
            if not hmac.compare_digest(_claim(claims, "aud"), app_id):
                raise SignatureError("a validation token is for another app")
            if _claim(claims, "azp") != GRAPH_CHANGE_TRACKING_APP_ID.encode():
                raise SignatureError("a validation token is not Microsoft Graph's")
            if _claim(claims, "iss") not in issuers:
                raise SignatureError("a validation token is for another tenant")
            expires, not_before = claims.get("exp"), claims.get("nbf", 0)
            if not isinstance(expires, int | float) or not isinstance(not_before, int | float):
                raise SignatureError("a validation token has no exp")
            if now_s > expires + CLOCK_SKEW_S or not_before > now_s + CLOCK_SKEW_S:
                raise StaleTimestamp("a validation token is not current")

    def describe(self, source: str, headers: Headers, body: bytes) -> Verified:
        check_json_content_type(headers)
        first = _items(body)[0]
        return Verified(
            id=fallback_event_id(source, body),
            type=text(first.get("lifecycleEvent")) or text(first.get("changeType")),
            payload_json=body,
        )

    def sample(self, now_s: float, *, event_id: str, event_type: str | None) -> Sample:
        """A change notification (`event_type` is the change: `created` by default) for a message."""
        kind = event_type or "created"
        change = {
            "subscriptionId": "5c8a1c4e-8a3c-4f1d-9b5e-7a2d1e0c9f41",
            "subscriptionExpirationDateTime": utc_rfc3339(now_s + 3600),
            "changeType": kind,
            "resource": f"Users/1d2f/Messages/{uuid.uuid4().hex}",
            "resourceData": {"@odata.type": "#Microsoft.Graph.Message", "id": uuid.uuid4().hex},
            "clientState": "",
            "tenantId": "84bd8158-6d4d-4958-8b9f-9d6445542f95",
        }
        return Sample(orjson.dumps({"value": [change]}), event_id, kind)

    def sign(self, body: bytes, secret: bytes, now_s: float, *, event_id: str, event_type: str) -> Delivery:
        """Graph carries the subscription's clientState (the secret) in every item of the body: no header.

        Raises the `RequestError` verifying would for a body that is no Graph notification.
        """
        _items(body)
        payload = orjson.loads(body)
        for item in payload["value"]:
            item["clientState"] = _parts(secret)[0].decode()
        return Delivery(orjson.dumps(payload), {})


def _parts(secret: bytes) -> tuple[bytes, bytes]:
    """(clientState, app id or b"") of a source secret."""
    state, _, app_id = secret.partition(b"|")
    if not state:
        raise ValueError("a Graph source's secret must be <clientState> or <clientState>|<app id>")
    return state, app_id


def _tokens(body: bytes) -> list[bytes]:
    payload = parse_json(body)
    tokens = payload.get("validationTokens", []) if isinstance(payload, dict) else []
    if not isinstance(tokens, list) or len(tokens) > _MAX_TOKENS or not all(isinstance(t, str) for t in tokens):
        raise MalformedHeader("validationTokens must be a short list of tokens")
    return [token.encode() for token in tokens]


def _token(value: bytes) -> jwt.Token:
    return jwt.parse_token(value, alg="RS256", name="a Graph validation token")


def _claim(claims: Mapping[str, object], name: str) -> bytes:
    value = claims.get(name)
    return value.encode() if isinstance(value, str) else b""


def _items(body: bytes) -> list[dict[str, Any]]:
    value = signed_list(body, "value", max_items=_MAX_ITEMS, what="a Graph notification")
    if not all(isinstance(item, dict) for item in value):
        raise MalformedHeader("every item of value must be an object")
    return value
