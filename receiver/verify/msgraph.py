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
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import orjson

from receiver.errors import BadRequest, MalformedHeader, MissingHeader, SignatureError
from receiver.verify.base import Delivery, HandshakeRule, Headers, Sample, Verified
from receiver.verify.handshakes import ValidationToken
from receiver.verify.parsing import check_json_content_type, fallback_event_id, parse_json, text, utc_rfc3339

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
            item["clientState"] = secret.decode()
        return Delivery(orjson.dumps(payload), {})


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
