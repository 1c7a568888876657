"""Twilio: `X-Twilio-Signature: <base64>`, an HMAC of the public URL and the POST parameters.

The signed string is the full URL Twilio requested (the source's configured `public_url`, exactly as set
in the Twilio console, query string included) followed, for a form body, by every parameter name and its
value, names sorted, each name's distinct values sorted (empty values included). HMAC-SHA1 keyed with the
account's Auth Token, unless the request carries `X-Twilio-Webhooks-Signature-Settings: ...,algorithm=
HMAC_SHA256` (a webhook SharedKey), then HMAC-SHA256. The URL is tried with and without its port, as
Twilio's own validator does. A JSON body is signed through the URL: Twilio appends `bodySHA256=<hex
SHA-256 of the body>` to the query, which is rebuilt here from the body, so no query string is trusted.
Twilio signs no timestamp: no replay window.
Event id: `I-Twilio-Idempotency-Token` (the same on Twilio's retries), else a SHA-256 of source and body.
Type: `message.<MessageStatus>` or `call.<CallStatus>` where the form has one, else the body's `type`.
The form's fields become the payload (a repeated name as a list).
Reference: Twilio docs, "Webhooks security" (validating signatures), and twilio's `RequestValidator`.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import SplitResult, parse_qsl, urlsplit

import orjson

from receiver.errors import MalformedHeader
from receiver.verify.base import Headers, Verified
from receiver.verify.events import (
    FORM,
    event_id,
    fallback_event_id,
    kept_headers,
    media_type,
    parse_form,
    parse_json,
    text,
)
from receiver.verify.parsing import hmac_digest, matching_secret, require_header

_SIGNATURE = b"x-twilio-signature"
_SETTINGS = b"x-twilio-webhooks-signature-settings"
_ALGORITHMS = {b"HMAC_SHA1": "sha1", b"HMAC_SHA256": "sha256"}
_KEPT_HEADERS = (b"i-twilio-idempotency-token", b"x-home-region", b"user-agent")


@dataclass(frozen=True, slots=True)
class TwilioScheme:
    public_url: str
    provider: str = "twilio"

    def verify(self, headers: Headers, body: bytes, secrets: Sequence[bytes], now_s: float) -> int:
        candidate = require_header(headers, _SIGNATURE).strip()
        algorithm = _algorithm(headers.get(_SETTINGS, b""))
        if media_type(headers) == FORM:
            urls = _url_variants(self.public_url)
            params = _sorted_params(body)
        else:
            body_hash = hashlib.sha256(body).hexdigest()
            urls = _url_variants(f"{self.public_url}{'&' if '?' in self.public_url else '?'}bodySHA256={body_hash}")
            params = b""
        expected = [base64.b64encode(hmac_digest(algorithm, s, url + params)) for s in secrets for url in urls]
        return matching_secret(expected, [candidate], per_secret=len(urls))

    def describe(self, source: str, headers: Headers, body: bytes) -> Verified:
        payload: Any
        if media_type(headers) == FORM:
            payload = parse_form(body)
            payload_json = orjson.dumps(payload)
        else:
            payload = parse_json(body)
            payload_json = body
        fields = payload if isinstance(payload, dict) else {}
        if "MessageStatus" in fields or "SmsStatus" in fields:
            event_type = f"message.{text(fields.get('MessageStatus') or fields.get('SmsStatus'))}"
        elif "CallStatus" in fields:
            event_type = f"call.{text(fields.get('CallStatus'))}"
        else:
            event_type = text(fields.get("type"))
        return Verified(
            id=event_id(headers.get(b"i-twilio-idempotency-token")) or fallback_event_id(source, body),
            type=event_type,
            payload_json=payload_json,
            headers=kept_headers(headers, _KEPT_HEADERS),
        )


def _algorithm(settings: bytes) -> str:
    for part in settings.split(b","):
        name, sep, value = part.partition(b"=")
        if sep and name.strip() == b"algorithm":
            try:
                return _ALGORITHMS[value.strip().upper()]
            except KeyError:
                raise MalformedHeader("X-Twilio-Webhooks-Signature-Settings names an unknown algorithm") from None
    return "sha1"


def _url_variants(url: str) -> tuple[bytes, bytes]:
    """The URL without and with its port (443 or 80 where none is written)."""
    parts = urlsplit(url)
    host = parts.netloc.rsplit(":", 1)[0] if parts.port else parts.netloc
    port = parts.port or (443 if parts.scheme == "https" else 80)
    without = SplitResult(parts.scheme, host, parts.path, parts.query, parts.fragment).geturl()
    with_port = SplitResult(parts.scheme, f"{host}:{port}", parts.path, parts.query, parts.fragment).geturl()
    return without.encode(), with_port.encode()


def _sorted_params(body: bytes) -> bytes:
    try:
        pairs = parse_qsl(body.decode("utf-8"), keep_blank_values=True, max_num_fields=1000)
    except (UnicodeDecodeError, ValueError):
        raise MalformedHeader("the form body can't be parsed, so its signature can't be checked") from None
    values: dict[str, set[str]] = {}
    for name, value in pairs:
        values.setdefault(name, set()).add(value)
    return "".join(name + value for name in sorted(values) for value in sorted(values[name])).encode()
