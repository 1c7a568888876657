"""Handshakes: the requests a provider sends to prove an endpoint is ours, and how each is answered.

A handshake belongs to a source's scheme (`Spec.handshakes`, or a code scheme's `handshakes`), written as
data in a spec: `{kind = "meta"}`, `{kind = "query", param = "challenge"}`. Each kind knows its method, whether
the request is signed like an event (`signed`: asked only after the signature verified, so an unverified
challenge is never answered), and how to answer. `routes.py` asks the handshakes of a request's method in
order; the first answer wins; none is published, each is counted as outcome `handshake`.

| kind | method | signed | provider | answer |
| --- | --- | --- | --- | --- |
| `meta` | GET | verify token | WhatsApp, Messenger, Instagram, Facebook | `hub.challenge` if the verify token is ours |
| `query` | GET | no | Dropbox | the `param` query field as text (`nosniff`) |
| `crc` | GET | no (the answer is keyed) | Twitter/X | `{"response_token":"sha256=<base64 HMAC(secret, crc_token)>"}` |
| `header` | GET | yes | Okta | `{"verification": <X-Okta-Verification-Challenge>}` |
| `zoom` | POST | yes | Zoom | `{"plainToken":…,"encryptedToken":<hex HMAC(secret, plainToken)>}` |
| `hook_secret` | POST | no | Asana | `X-Hook-Secret` echoed as a header, 200; the secret captured |
| `validation_token` | POST | no | Microsoft Graph | `validationToken` query field as text, 200 |
| `challenge` | POST | `signed` | monday.com, Notion | `{"challenge": …}` echoed (Notion's token captured) |
| `empty_batch` | POST | yes | Xero intent to receive | 200, empty body, for a signed body whose `field` list is empty |
| `cloudevents` | OPTIONS | no | CloudEvents web hooks | `WebHook-Allowed-Origin` (and `-Rate`) |
| `head` | HEAD | no | Trello | 200, empty (the URL check when a webhook is created) |

Answering an unsigned kind proves nothing to anyone and publishes nothing: it only echoes what was sent.
A kind that `captures` hands the provider's chosen secret to the source (`Handshake.captured`), which keeps
it only while it waits for one (`Source.capture`, docs/providers.md "Secrets chosen in a handshake").
"""

from __future__ import annotations

import base64
import hmac
import re
from typing import Annotated, Any, ClassVar, Literal

import orjson
from pydantic import BaseModel, ConfigDict, Field

from receiver.errors import BadRequest, HandshakeRefused
from receiver.verify.base import Handshake, Inbound
from receiver.verify.events import parse_json
from receiver.verify.parsing import hmac_digest

_TEXT = b"text/plain; charset=utf-8"
# How a handshake's secret is kept (`_Kind.captures`).
Capture = Literal["kept", "shown"]
_JSON = b"application/json"
# Echoed values are bounded: a challenge is a token, not a body.
_MAX_ECHO_CHARS = 1024
_CRC_TOKEN = re.compile(rf"[A-Za-z0-9+/_-]{{1,{_MAX_ECHO_CHARS}}}={{0,2}}")


class _Kind(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    # The HTTP method the provider sends it with.
    method: ClassVar[str] = "POST"

    @property
    def signed(self) -> bool:
        return False

    @property
    def captures(self) -> Capture | None:
        """Whether the handshake carries the secret the provider chose for the events after (`kept`), also to
        be shown once to the operator, who pastes it back at the provider (`shown`); None: it carries none."""
        return None

    def answer(self, request: Inbound, secret: bytes, verify_token: bytes | None) -> Handshake | None:
        """The answer to `request` if it is this handshake, else None (an ordinary request)."""
        raise NotImplementedError

    def sample(self, secret: bytes, verify_token: bytes | None) -> Inbound:
        """A request such as the provider sends for this handshake (for `send --handshake` and the tests)."""
        raise NotImplementedError


def _echo(value: str, *, name: str) -> str:
    if not value or len(value) > _MAX_ECHO_CHARS or not value.isprintable():
        raise BadRequest(f"{name} must be 1 to {_MAX_ECHO_CHARS} printable characters")
    return value


class MetaChallenge(_Kind):
    """Meta's webhook verification: `GET ?hub.mode=subscribe&hub.verify_token=…&hub.challenge=…`.

    Reference: Meta for Developers, "Webhooks: Getting started", verification requests (answer 403 when the
    verify token is not the one configured).
    """

    kind: Literal["meta"]
    method = "GET"

    def answer(self, request: Inbound, secret: bytes, verify_token: bytes | None) -> Handshake | None:
        if request.query.get("hub.mode") != "subscribe" or "hub.challenge" not in request.query:
            return None
        given = request.query.get("hub.verify_token", "").encode()
        if verify_token is None or not hmac.compare_digest(given, verify_token):
            raise HandshakeRefused("hub.verify_token is not the configured verify token")
        return Handshake(_echo(request.query["hub.challenge"], name="hub.challenge").encode(), _TEXT)

    def sample(self, secret: bytes, verify_token: bytes | None) -> Inbound:
        token = (verify_token or b"").decode()
        query = {"hub.mode": "subscribe", "hub.verify_token": token, "hub.challenge": "1158201444"}
        return Inbound("GET", query, {}, b"")


class QueryChallenge(_Kind):
    """A GET whose query field is echoed as text (Dropbox: `?challenge=`, with `X-Content-Type-Options: nosniff`).

    Reference: Dropbox developers, "Webhooks" (verification request).
    """

    kind: Literal["query"]
    param: str = "challenge"
    method = "GET"

    def answer(self, request: Inbound, secret: bytes, verify_token: bytes | None) -> Handshake | None:
        value = request.query.get(self.param)
        if value is None:
            return None
        nosniff = ((b"x-content-type-options", b"nosniff"),)
        return Handshake(_echo(value, name=self.param).encode(), _TEXT, headers=nosniff)

    def sample(self, secret: bytes, verify_token: bytes | None) -> Inbound:
        return Inbound("GET", {self.param: "c2b0e8b7-challenge"}, {}, b"")


class Crc(_Kind):
    """Twitter/X's challenge-response check: `GET ?crc_token=…` → the token's HMAC-SHA256 under the consumer
    secret, base64, as `{"response_token": "sha256=…"}`.

    Reference: X developer docs, "Securing webhooks" (the CRC) and the Account Activity API's example code.
    """

    kind: Literal["crc"]
    method = "GET"

    def answer(self, request: Inbound, secret: bytes, verify_token: bytes | None) -> Handshake | None:
        token = request.query.get("crc_token")
        if token is None:
            return None
        # The answer is the same HMAC under the same secret as an event's signature, over a text the caller
        # chose: unchecked, any body (a forged event's JSON) could be sent as `crc_token` and its answer
        # replayed as that body's `x-twitter-webhooks-signature`. X's tokens are base64 (or base64url), which
        # no JSON body is (the hardening vercel/chat#775 made for the same reason).
        if not _CRC_TOKEN.fullmatch(token):
            raise BadRequest(f"crc_token must be 1 to {_MAX_ECHO_CHARS} base64 characters")
        return Handshake(orjson.dumps({"response_token": response_token(secret, token)}))

    def sample(self, secret: bytes, verify_token: bytes | None) -> Inbound:
        return Inbound("GET", {"crc_token": "Y3JjLTE3OTUwMDAwMDA="}, {}, b"")


def response_token(secret: bytes, crc_token: str) -> str:
    """Twitter/X's CRC answer for a token."""
    return "sha256=" + base64.b64encode(hmac_digest("sha256", secret, crc_token.encode())).decode()


class HeaderChallenge(_Kind):
    """A signed GET whose challenge header is answered as `{field: value}` (Okta: `X-Okta-Verification-Challenge`
    → `{"verification": …}`).

    Reference: Okta developer docs, "Event hooks", one-time verification request.
    """

    kind: Literal["header"]
    header: str = "X-Okta-Verification-Challenge"
    field: str = "verification"
    method = "GET"

    @property
    def signed(self) -> bool:
        return True

    def answer(self, request: Inbound, secret: bytes, verify_token: bytes | None) -> Handshake | None:
        value = request.headers.get(self.header.lower().encode())
        if value is None:
            return None
        return Handshake(orjson.dumps({self.field: _echo(value.decode("latin-1"), name=self.header)}))

    def sample(self, secret: bytes, verify_token: bytes | None) -> Inbound:
        return Inbound("GET", {}, {self.header.lower().encode(): b"2mqmMr8gPNhKHWRv9Hz8TJz1TnF1"}, b"")


class ZoomValidation(_Kind):
    """Zoom's `endpoint.url_validation` (signed like any event) → `{"plainToken", "encryptedToken"}`, the
    encrypted token being the hex HMAC-SHA256 of the plain token under the secret token. Zoom waits 3 s.

    Reference: Zoom developer docs, "Using webhooks", "Validate your webhook endpoint".
    """

    kind: Literal["zoom"]

    @property
    def signed(self) -> bool:
        return True

    def answer(self, request: Inbound, secret: bytes, verify_token: bytes | None) -> Handshake | None:
        if b"endpoint.url_validation" not in request.body:
            return None
        payload = parse_json(request.body)
        if not isinstance(payload, dict) or payload.get("event") != "endpoint.url_validation":
            return None
        plain = payload.get("payload", {}).get("plainToken") if isinstance(payload.get("payload"), dict) else None
        if not isinstance(plain, str):
            raise BadRequest("endpoint.url_validation has no payload.plainToken")
        plain = _echo(plain, name="plainToken")
        encrypted = hmac_digest("sha256", secret, plain.encode()).hex()
        return Handshake(orjson.dumps({"plainToken": plain, "encryptedToken": encrypted}))

    def sample(self, secret: bytes, verify_token: bytes | None) -> Inbound:
        body = orjson.dumps(
            {
                "payload": {"plainToken": "qgg8vlvZRS6UYooatFL8Aw"},
                "event_ts": 1654503849680,
                "event": "endpoint.url_validation",
            }
        )
        return Inbound("POST", {}, {b"content-type": b"application/json"}, body)


class HookSecret(_Kind):
    """Asana's handshake: a POST carrying `X-Hook-Secret`, answered 200 with the same header while Asana's
    create call waits. The secret is Asana's to choose, and the key of `X-Hook-Signature` on the events after:
    captured (`Handshake.captured`). Asana sends it only when a webhook is created.

    Reference: Asana developers, "Webhooks guide", the webhook handshake.
    """

    kind: Literal["hook_secret"]
    header: str = "X-Hook-Secret"

    @property
    def captures(self) -> Capture | None:
        return "kept"

    def answer(self, request: Inbound, secret: bytes, verify_token: bytes | None) -> Handshake | None:
        value = request.headers.get(self.header.lower().encode())
        if value is None:
            return None
        _echo(value.decode("latin-1"), name=self.header)
        return Handshake(b"", _TEXT, headers=((self.header.lower().encode(), value),), captured=value)

    def sample(self, secret: bytes, verify_token: bytes | None) -> Inbound:
        return Inbound("POST", {}, {self.header.lower().encode(): secret}, b"")


class ValidationToken(_Kind):
    """Microsoft Graph's subscription validation: `POST ?validationToken=…` answered within 10 s with the
    (URL-decoded) token as `text/plain`, 200.

    Reference: Microsoft Graph docs, "Receive change notifications through webhooks", notification endpoint
    validation.
    """

    kind: Literal["validation_token"]
    param: str = "validationToken"

    def answer(self, request: Inbound, secret: bytes, verify_token: bytes | None) -> Handshake | None:
        value = request.query.get(self.param)
        if value is None:
            return None
        return Handshake(_echo(value, name=self.param).encode(), _TEXT)

    def sample(self, secret: bytes, verify_token: bytes | None) -> Inbound:
        return Inbound("POST", {self.param: "Validation: Testing client application reachability"}, {}, b"")


class BodyChallenge(_Kind):
    """A JSON POST `{"challenge": …}` echoed as the same JSON (monday.com's URL verification; Notion's
    `{"verification_token": …}` when a subscription is created, captured as the source's secret).

    Reference: monday.com developers, "Webhooks", URL verification; Notion developers, "Webhooks", step 2
    (verifying the subscription: the token is the key of `X-Notion-Signature`).
    """

    kind: Literal["challenge"]
    field: str = "challenge"
    verified: bool = False
    # Notion's `verification_token` is the signing secret of the events after, to be pasted back into Notion.
    capture: Capture | None = None

    @property
    def signed(self) -> bool:
        return self.verified

    @property
    def captures(self) -> Capture | None:
        return self.capture

    def answer(self, request: Inbound, secret: bytes, verify_token: bytes | None) -> Handshake | None:
        if self.field.encode() not in request.body:
            return None
        payload = parse_json(request.body)
        if not isinstance(payload, dict) or set(payload) != {self.field} or not isinstance(payload[self.field], str):
            return None
        value = _echo(payload[self.field], name=self.field)
        captured = value.encode() if self.capture is not None else None
        return Handshake(orjson.dumps({self.field: value}), captured=captured)

    def sample(self, secret: bytes, verify_token: bytes | None) -> Inbound:
        # A captured value is the secret the provider chose: the source's own, as it will hold it.
        value = (
            secret.decode("utf-8", "replace")
            if self.capture is not None
            else "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P"
        )
        body = orjson.dumps({self.field: value})
        return Inbound("POST", {}, {b"content-type": b"application/json"}, body)


class EmptyBatch(_Kind):
    """A signed POST whose event list is empty: answered 200 with no body and not published (Xero's "intent
    to receive" sends these, signed and badly signed, and wants 200 and 401).

    Reference: Xero developer docs, "Webhooks", intent to receive.
    """

    kind: Literal["empty_batch"]
    field: str = "events"

    @property
    def signed(self) -> bool:
        return True

    def answer(self, request: Inbound, secret: bytes, verify_token: bytes | None) -> Handshake | None:
        payload = parse_json(request.body)
        if isinstance(payload, dict) and payload.get(self.field) == []:
            return Handshake(b"", _TEXT)
        return None

    def sample(self, secret: bytes, verify_token: bytes | None) -> Inbound:
        body = orjson.dumps({self.field: [], "firstEventSequence": 0, "lastEventSequence": 0, "entropy": "S0M3R4ND0M"})
        return Inbound("POST", {}, {b"content-type": b"application/json"}, body)


class CloudEventsOptions(_Kind):
    """The CloudEvents web hook abuse protection: `OPTIONS` with `WebHook-Request-Origin` → 200 with
    `WebHook-Allowed-Origin` (the origin given) and `WebHook-Allowed-Rate` (`*`: no limit asked).

    Reference: CloudEvents, "HTTP 1.1 Web Hooks for Event Delivery", section 4 (abuse protection).
    """

    kind: Literal["cloudevents"]
    allowed_rate: str = "*"
    method = "OPTIONS"

    def answer(self, request: Inbound, secret: bytes, verify_token: bytes | None) -> Handshake | None:
        origin = request.headers.get(b"webhook-request-origin")
        if origin is None:
            return None
        _echo(origin.decode("latin-1"), name="WebHook-Request-Origin")
        headers = (
            (b"webhook-allowed-origin", origin),
            (b"webhook-allowed-rate", self.allowed_rate.encode()),
            (b"allow", b"POST, OPTIONS"),
        )
        return Handshake(b"", _TEXT, headers=headers)

    def sample(self, secret: bytes, verify_token: bytes | None) -> Inbound:
        return Inbound("OPTIONS", {}, {b"webhook-request-origin": b"eventemitter.example.com"}, b"")


class HeadCheck(_Kind):
    """A HEAD request answered 200 with nothing (Trello checks the callback URL so when a webhook is created).

    Reference: Trello developers, "Webhooks" (creating a webhook: the HEAD request must get a 200).
    """

    kind: Literal["head"]
    method = "HEAD"

    def answer(self, request: Inbound, secret: bytes, verify_token: bytes | None) -> Handshake | None:
        return Handshake(b"", _TEXT)

    def sample(self, secret: bytes, verify_token: bytes | None) -> Inbound:
        return Inbound("HEAD", {}, {}, b"")


HandshakeKind = Annotated[
    MetaChallenge
    | QueryChallenge
    | Crc
    | HeaderChallenge
    | ZoomValidation
    | HookSecret
    | ValidationToken
    | BodyChallenge
    | EmptyBatch
    | CloudEventsOptions
    | HeadCheck,
    Field(discriminator="kind"),
]


def handshake_methods(handshakes: tuple[Any, ...]) -> frozenset[str]:
    """The methods besides POST that a source answers."""
    return frozenset(h.method for h in handshakes) - {"POST"}
