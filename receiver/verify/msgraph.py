"""Microsoft Graph change notifications (Outlook, Teams, SharePoint, OneDrive): no signature, a `clientState`.

A subscription is created with a `clientState` of your choosing (the source's secret); every item of a
notification's `value` carries it back, compared in constant time, and every item must carry the same one.
Graph first validates the URL with `POST ?validationToken=…`, answered with the token as text within 10 s
(the `validation_token` handshake). Lifecycle notifications (`reauthorizationRequired`, `missed`,
`subscriptionRemoved`) come the same way. TLS protects the body; rich notifications' `validationTokens`
(JWTs) are not checked here.
Event id: none is sent, so a SHA-256 of source and body. Type: the first item's `lifecycleEvent`, else its
`changeType` (`created`, `updated`, `deleted`).
Reference: Microsoft Graph docs, "Receive change notifications through webhooks" (clientState, validation).
"""

from __future__ import annotations

import hmac
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from receiver.errors import BadRequest, MalformedHeader, MissingHeader, SignatureError
from receiver.verify.base import HandshakeRule, Headers, Verified
from receiver.verify.handshakes import ValidationToken
from receiver.verify.parsing import check_json_content_type, fallback_event_id, parse_json, text

_MAX_ITEMS = 1000


@dataclass(frozen=True, slots=True)
class MsGraphScheme:
    provider: str = "msgraph"

    @property
    def handshakes(self) -> tuple[HandshakeRule, ...]:
        return (ValidationToken(kind="validation_token"),)

    def verify(self, headers: Headers, body: bytes, secrets: Sequence[bytes], now_s: float) -> int:
        matched = -1
        for item in _items(body):
            state = item.get("clientState")
            if not isinstance(state, str) or not state:
                raise MissingHeader("missing clientState")
            found = -1
            for position, secret in enumerate(secrets):
                if hmac.compare_digest(state.encode(), secret) and found < 0:
                    found = position
            if found < 0:
                raise SignatureError("clientState does not match")
            if matched not in (-1, found):
                raise SignatureError("the items of one notification carry different clientStates")
            matched = found
        return matched

    def describe(self, source: str, headers: Headers, body: bytes) -> Verified:
        check_json_content_type(headers)
        first = _items(body)[0]
        return Verified(
            id=fallback_event_id(source, body),
            type=text(first.get("lifecycleEvent")) or text(first.get("changeType")),
            payload_json=body,
        )

    def sign(self, body: bytes, secret: bytes, now_s: float, *, event_id: str, event_type: str) -> dict[str, str]:
        """Graph puts the clientState in the body (`send` builds it there): no header."""
        return {}


def _items(body: bytes) -> list[dict[str, Any]]:
    try:
        payload = parse_json(body)
    except BadRequest:
        raise MalformedHeader("a Graph notification must be JSON") from None
    value = payload.get("value") if isinstance(payload, dict) else None
    if not isinstance(value, list) or not value or len(value) > _MAX_ITEMS:
        raise MissingHeader("missing value (the notifications)")
    if not all(isinstance(item, dict) for item in value):
        raise MalformedHeader("every item of value must be an object")
    return value
