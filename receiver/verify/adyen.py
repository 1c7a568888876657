"""Adyen standard notifications: an HMAC of selected fields of each item, not of the body.

Each `NotificationRequestItem` of `notificationItems` carries `additionalData.hmacSignature`: the base64
HMAC-SHA256, keyed with the hex-decoded HMAC key, of
`pspReference:originalReference:merchantAccountCode:merchantReference:value:currency:eventCode:success`
(`value` and `currency` from `amount`, a missing field as empty). Every item of a batch must verify, under
the same key. Adyen signs no time: a replay is a duplicate (same ids). Adyen wants `[accepted]` back.
Event id: `<pspReference>:<eventCode>:<success>` of a one-item batch (Adyen's own advice for deduplicating),
else a SHA-256 of source and body. Type: the first item's `eventCode`.
Reference: Adyen docs, "Verify HMAC signatures"; the Adyen Python library's `util.generate_notification_sig`.
"""

from __future__ import annotations

import base64
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import orjson

from receiver.errors import MalformedHeader, MissingHeader, SignatureError
from receiver.verify.base import Delivery, Handshake, Headers, Sample, Verified
from receiver.verify.events import (
    check_json_content_type,
    dig,
    event_id,
    fallback_event_id,
    from_rfc3339,
    signed_list,
    text,
)
from receiver.verify.parsing import decode_base64, hmac_digest, matching_secret, utc_rfc3339

_FIELDS = ("pspReference", "originalReference", "merchantAccountCode", "merchantReference")
_MAX_ITEMS = 100
ACCEPTED = Handshake(b"[accepted]", b"text/plain; charset=utf-8", 200)


@dataclass(frozen=True, slots=True)
class AdyenScheme:
    provider: str = "adyen"

    @property
    def ack(self) -> Handshake:
        return ACCEPTED

    def check_secret(self, secret: bytes) -> None:
        """Raise `ValueError` unless the HMAC key is hex, as Adyen's Customer Area shows it."""
        _key(secret)

    def verify(self, headers: Headers, body: bytes, secrets: Sequence[bytes], now_s: float) -> int:
        items = _items(body)
        keys = [_key(secret) for secret in secrets]
        matched = -1
        for item in items:
            signature = dig(item, "additionalData", "hmacSignature")
            if not isinstance(signature, str) or not signature:
                raise MissingHeader("missing additionalData.hmacSignature")
            candidate = decode_base64(signature.encode(), name="additionalData.hmacSignature")
            position = matching_secret([hmac_digest("sha256", key, signing_string(item)) for key in keys], [candidate])
            if matched not in (-1, position):
                raise SignatureError("the items of one batch are signed with different keys")
            matched = position
        return matched

    def describe(self, source: str, headers: Headers, body: bytes) -> Verified:
        check_json_content_type(headers)
        items = _items(body)
        first = items[0]
        found = None
        if len(items) == 1:
            parts = (first.get("pspReference"), first.get("eventCode"), first.get("success"))
            found = event_id(":".join(str(part) for part in parts)) if all(parts) else None
        return Verified(
            id=found or fallback_event_id(source, body),
            type=text(first.get("eventCode")),
            payload_json=body,
            occurred_at=from_rfc3339(first.get("eventDate")),
        )

    def sample(self, now_s: float, *, event_id: str, event_type: str | None) -> Sample:
        """A one-item batch of `event_type` (an `eventCode`: `AUTHORISATION` by default)."""
        kind = event_type or "AUTHORISATION"
        item = {
            "additionalData": {},
            "amount": {"currency": "EUR", "value": 1130},
            "eventCode": kind,
            "eventDate": utc_rfc3339(now_s),
            "merchantAccountCode": "AgentShopECOM",
            "merchantReference": f"order-{event_id}",
            "pspReference": uuid.uuid4().hex[:16].upper(),
            "reason": "null",
            "success": "true",
        }
        body = {"live": "false", "notificationItems": [{"NotificationRequestItem": item}]}
        return Sample(orjson.dumps(body), event_id, kind)

    def sign(self, body: bytes, secret: bytes, now_s: float, *, event_id: str, event_type: str) -> Delivery:
        """Adyen signs inside the body (`sign_body`): no header. Raises the `RequestError` verifying would for
        a body that is no Adyen notification."""
        _items(body)
        return Delivery(sign_body(orjson.loads(body), secret), {})


def sign_body(payload: dict[str, Any], secret: bytes) -> bytes:
    """`payload` with every item's `additionalData.hmacSignature` set, as Adyen sends it."""
    for entry in payload.get("notificationItems", []):
        item = entry["NotificationRequestItem"]
        digest = hmac_digest("sha256", _key(secret), signing_string(item))
        item.setdefault("additionalData", {})["hmacSignature"] = base64.b64encode(digest).decode()
    return orjson.dumps(payload)


def signing_string(item: dict[str, Any]) -> bytes:
    """The fields Adyen signs, in its order, joined by `:`."""
    amount = item.get("amount") if isinstance(item.get("amount"), dict) else {}
    assert isinstance(amount, dict)
    values = [*(item.get(name, "") for name in _FIELDS), amount.get("value", ""), amount.get("currency", "")]
    values += [item.get("eventCode", ""), item.get("success", "")]
    return ":".join("" if value is None else str(value) for value in values).encode()


def _items(body: bytes) -> list[dict[str, Any]]:
    entries = signed_list(body, "notificationItems", max_items=_MAX_ITEMS, what="an Adyen notification")
    items = [entry.get("NotificationRequestItem") if isinstance(entry, dict) else None for entry in entries]
    if not all(isinstance(item, dict) for item in items):
        raise MalformedHeader("every notificationItems entry must hold a NotificationRequestItem")
    return [item for item in items if isinstance(item, dict)]


def _key(secret: bytes) -> bytes:
    try:
        key = bytes.fromhex(secret.decode("ascii"))
    except (UnicodeDecodeError, ValueError):
        raise ValueError("an Adyen HMAC key must be hex") from None
    if not key:
        raise ValueError("an Adyen HMAC key must not be empty")
    return key
