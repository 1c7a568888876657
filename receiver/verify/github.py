"""GitHub: `X-Hub-Signature-256: sha256=<hex>`, an HMAC-SHA256 of the raw body with the webhook secret.

GitHub signs no timestamp, so there is no replay window: a replay carries the same `X-GitHub-Delivery`
id and is dropped as a duplicate by the consumers. The legacy SHA-1 `X-Hub-Signature` is not accepted.
Event id: `X-GitHub-Delivery`. Type: `X-GitHub-Event`, with the body's `action` appended where there is
one (`pull_request.opened`), so handlers can register `pull_request.*`. Subject: `repository.full_name`.
A webhook configured with content type `application/x-www-form-urlencoded` sends the JSON in a `payload`
form field; both forms are accepted. Reference: GitHub docs, "Validating webhook deliveries".
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs

import orjson

from receiver.errors import BadRequest, MalformedHeader, UnsupportedMediaType
from receiver.verify.base import Delivery, Headers, Sample, Verified
from receiver.verify.events import dig, event_id, subject, text
from receiver.verify.jsonview import parse_object
from receiver.verify.parsing import hmac_digest, matching_secret, require_header

_SIGNATURE = b"x-hub-signature-256"
_PREFIX = b"sha256="
# Headers that describe the delivery and hold no credential.
_KEPT_HEADERS = (
    b"x-github-event",
    b"x-github-delivery",
    b"x-github-hook-id",
    b"x-github-hook-installation-target-id",
    b"x-github-hook-installation-target-type",
    b"user-agent",
)


@dataclass(frozen=True, slots=True)
class GitHubScheme:
    provider: str = "github"

    def verify(self, headers: Headers, body: bytes, secrets: Sequence[bytes], now_s: float) -> int:
        value = require_header(headers, _SIGNATURE).strip()
        if not value.startswith(_PREFIX):
            raise MalformedHeader("X-Hub-Signature-256 must start with 'sha256='")
        candidate = value[len(_PREFIX) :].lower()
        return matching_secret((hmac_digest("sha256", s, body).hex().encode() for s in secrets), [candidate])

    def sample(self, now_s: float, *, event_id: str, event_type: str | None) -> Sample:
        """An issue event (`issues.opened` unless `event_type` names another action); GitHub's delivery ids
        are UUIDs, so `event_id` is not used."""
        kind = event_type or "issues.opened"
        number = int(time.time()) % 10_000
        account = {"login": "octocat", "id": 583231, "type": "User"}
        repository = {"id": 1296269, "name": "hello-world", "full_name": "octocat/hello-world", "owner": account}
        issue = {"number": number, "title": "Agent: summarize this issue", "state": "open", "user": account}
        action = kind.partition(".")[2] or "opened"
        payload: dict[str, Any] = {"action": action, "issue": issue, "repository": repository, "sender": account}
        return Sample(orjson.dumps(payload), str(uuid.uuid4()), kind)

    def sign(self, body: bytes, secret: bytes, now_s: float, *, event_id: str, event_type: str) -> Delivery:
        """`X-Hub-Signature-256` over the body; `event_type` is `event[.action]` (only the event is a header)."""
        headers = {
            "x-github-event": event_type.partition(".")[0],
            "x-github-delivery": event_id,
            "x-hub-signature-256": "sha256=" + hmac_digest("sha256", secret, body).hex(),
        }
        return Delivery(body, headers)

    def describe(self, source: str, headers: Headers, body: bytes) -> Verified:
        payload_json = _payload_json(headers, body)
        payload = parse_object(payload_json)
        delivery = event_id(headers.get(b"x-github-delivery"))
        if delivery is None:
            raise BadRequest("missing X-GitHub-Delivery header")
        event = text(event_id(headers.get(b"x-github-event")))
        if not event:
            raise BadRequest("missing X-GitHub-Event header")
        action = text(payload.get("action"))
        return Verified(
            id=delivery,
            type=f"{event}.{action}" if action else event,
            payload_json=payload_json,
            headers={name.decode(): headers[name].decode("latin-1") for name in _KEPT_HEADERS if name in headers},
            subject=subject(dig(payload, "repository", "full_name")),
        )


def _payload_json(headers: Headers, body: bytes) -> bytes:
    media_type = headers.get(b"content-type", b"application/json").split(b";", 1)[0].strip().lower()
    if media_type == b"application/json":
        return body
    if media_type == b"application/x-www-form-urlencoded":
        try:
            fields = parse_qs(body.decode("utf-8"), strict_parsing=True, max_num_fields=16)
        except (UnicodeDecodeError, ValueError):
            raise BadRequest("malformed form body") from None
        payload = fields.get("payload")
        if payload is None or len(payload) != 1:
            raise BadRequest("form body must have one 'payload' field")
        return payload[0].encode("utf-8")
    raise UnsupportedMediaType("content type must be application/json or application/x-www-form-urlencoded")
