"""Intercom and Jira: `X-Hub-Signature: <method>=<hex>`, the WebSub convention, HMAC of the raw body.

- Intercom signs with HMAC-SHA1 (`sha1=`) keyed with the app's client secret. Event id: the body's `id`
  (`notif_...`); type: `topic` (`conversation.user.created`); occurred: `created_at` (unix seconds).
- Jira Cloud (webhooks registered with a secret) signs with HMAC-SHA256 (`sha256=`). Event id:
  `X-Atlassian-Webhook-Identifier` (the same on retries); type: `webhookEvent` (`jira:issue_updated`);
  occurred: `timestamp` (unix milliseconds).
Neither signs a timestamp: no replay window (replays are duplicates by event id).
Reference: Intercom developer docs, "Webhooks: signed notifications"; Atlassian developer docs, "Jira Cloud
webhooks: secure admin webhooks" (the WebSub `X-Hub-Signature` method).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from receiver.errors import MalformedHeader
from receiver.verify.base import Headers, Verified
from receiver.verify.parsing import (
    check_json_content_type,
    event_id,
    fallback_event_id,
    from_unix,
    hmac_digest,
    kept_headers,
    matching_secret,
    parse_json_object,
    require_header,
    text,
)

_SIGNATURE = b"x-hub-signature"
_KEPT_HEADERS = (b"x-atlassian-webhook-identifier", b"x-atlassian-webhook-retry", b"user-agent")


@dataclass(frozen=True, slots=True)
class WebSubScheme:
    """`X-Hub-Signature` with a fixed method; `provider` picks where the id and type are."""

    provider: Literal["intercom", "jira"]

    def verify(self, headers: Headers, body: bytes, secrets: Sequence[bytes], now_s: float) -> int:
        algorithm = "sha1" if self.provider == "intercom" else "sha256"
        prefix = algorithm.encode() + b"="
        value = require_header(headers, _SIGNATURE).strip()
        if not value.startswith(prefix):
            raise MalformedHeader(f"X-Hub-Signature must start with '{algorithm}='")
        expected = [hmac_digest(algorithm, s, body).hex().encode() for s in secrets]
        return matching_secret(expected, [value[len(prefix) :].lower()])

    def describe(self, source: str, headers: Headers, body: bytes) -> Verified:
        check_json_content_type(headers)
        payload = parse_json_object(body)
        if self.provider == "intercom":
            found = event_id(payload.get("id"))
            event_type = text(payload.get("topic"))
            occurred_at = from_unix(payload.get("created_at"))
        else:
            found = event_id(headers.get(b"x-atlassian-webhook-identifier"))
            event_type = text(payload.get("webhookEvent"))
            occurred_at = from_unix(payload.get("timestamp"), per_second=1000)
        return Verified(
            id=found or fallback_event_id(source, body),
            type=event_type,
            payload_json=body,
            occurred_at=occurred_at,
            headers=kept_headers(headers, _KEPT_HEADERS),
        )
