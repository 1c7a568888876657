"""Slack: `X-Slack-Signature: v0=<hex>`, an HMAC-SHA256 of `v0:<X-Slack-Request-Timestamp>:<raw body>`.

Keyed with the app's signing secret (used as is). The timestamp (unix seconds) must be within the
tolerance, both ways; Slack's own SDK uses 5 minutes. Bodies: the Events API sends JSON; slash commands
send form fields; interactivity sends a form whose `payload` field holds JSON. All are verified on the raw
bytes; a form's fields become the envelope's payload (a `payload` field's JSON as it is).

Handshake: `{"type":"url_verification","challenge":...}` is answered with `{"challenge":...}` (200).
Event id: `event_id` (`Ev...`, the same on Slack's retries, which add `X-Slack-Retry-Num`); slash commands
and interactions carry none, so `trigger_id` where there is one, else a SHA-256 of source and body.
Type: an Events API callback's `event.type` (`app_mention`), otherwise the body's `type`
(`block_actions`, `app_rate_limited`), `slash_command` for a slash command. Occurred: `event_time`.
Reference: Slack docs, "Verifying requests from Slack", and slack_sdk's `SignatureVerifier`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import orjson

from receiver.errors import BadRequest, MalformedHeader, UnsupportedMediaType
from receiver.verify.base import Handshake, Headers, Verified
from receiver.verify.events import (
    FORM,
    event_id,
    fallback_event_id,
    from_unix,
    kept_headers,
    media_type,
    parse_form,
    parse_json_object,
    text,
)
from receiver.verify.parsing import check_timestamp, hmac_digest, matching_secret, require_header, unix_header

_SIGNATURE = b"x-slack-signature"
_TIMESTAMP = b"x-slack-request-timestamp"
_VERSION = b"v0"
_KEPT_HEADERS = (b"x-slack-retry-num", b"x-slack-retry-reason", b"user-agent")


@dataclass(frozen=True, slots=True)
class SlackScheme:
    tolerance_s: int = 300
    provider: str = "slack"

    def verify(self, headers: Headers, body: bytes, secrets: Sequence[bytes], now_s: float) -> int:
        signature = require_header(headers, _SIGNATURE).strip()
        timestamp = unix_header(headers, _TIMESTAMP)
        if not signature.startswith(_VERSION + b"="):
            raise MalformedHeader("X-Slack-Signature must start with 'v0='")
        signed = _VERSION + b":" + timestamp + b":" + body
        matched = matching_secret(
            [hmac_digest("sha256", s, signed).hex().encode() for s in secrets], [signature[3:].lower()]
        )
        check_timestamp(int(timestamp), now_s, self.tolerance_s)
        return matched

    def handshake(self, headers: Headers, body: bytes) -> Handshake | None:
        if media_type(headers) != b"application/json" or b"url_verification" not in body:
            return None
        payload = parse_json_object(body)
        if payload.get("type") != "url_verification":
            return None
        return Handshake(orjson.dumps({"challenge": text(payload.get("challenge"))}))

    def describe(self, source: str, headers: Headers, body: bytes) -> Verified:
        kind = media_type(headers)
        if kind == b"application/json":
            payload_json = body
            payload = parse_json_object(body)
        elif kind == FORM:
            payload_json, payload = _form_payload(body)
        else:
            raise UnsupportedMediaType("content type must be application/json or application/x-www-form-urlencoded")
        found = event_id(payload.get("event_id")) or event_id(payload.get("trigger_id"))
        event = payload.get("event")
        if payload.get("type") == "event_callback" and isinstance(event, dict):
            event_type = text(event.get("type"))
        elif "command" in payload and "type" not in payload:
            event_type = "slash_command"
        else:
            event_type = text(payload.get("type"))
        return Verified(
            id=found or fallback_event_id(source, body),
            type=event_type,
            payload_json=payload_json,
            occurred_at=from_unix(payload.get("event_time")),
            headers=kept_headers(headers, _KEPT_HEADERS),
        )


def _form_payload(body: bytes) -> tuple[bytes, dict[str, Any]]:
    """(payload JSON, payload) of a form body: an interaction's `payload` JSON, or the fields themselves."""
    fields = parse_form(body)
    inner = fields.get("payload")
    if isinstance(inner, str):
        payload_json = inner.encode()
        return payload_json, parse_json_object(payload_json)
    if inner is not None:
        raise BadRequest("form body has several 'payload' fields")
    return orjson.dumps(fields), fields
