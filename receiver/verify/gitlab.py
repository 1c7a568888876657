"""GitLab: `X-Gitlab-Token`, the webhook's secret token sent as it is (compared in constant time).

GitLab sends the token itself, not a signature of the body, so TLS is what protects the body, and there is
no replay window. Event id: `Idempotency-Key` (a UUID per event and hook, kept when a delivery is resent;
GitLab 17.4+), else a SHA-256 of source and body. Neither UUID header is an event id:
`X-Gitlab-Webhook-UUID` is new on every attempt, and `X-Gitlab-Event-UUID` is the recursion-detection UUID,
shared by every hook a request (or a chain of webhook-triggered requests) sets off, so it would merge distinct
events. Both are kept in the envelope's headers for tracing. Type: the body's `object_kind` (`push`,
`merge_request`), with `.<object_attributes.action>` where there is one (`merge_request.open`).
Reference: gitlabhq/gitlabhq `app/services/web_hook_service.rb` (`build_headers`),
`lib/gitlab/web_hooks/recursion_detection/uuid.rb`; GitLab docs, "Webhooks".
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass

import orjson

from receiver.verify.base import Delivery, Headers, Sample, Verified
from receiver.verify.events import dig, event_id, fallback_event_id, from_rfc3339, json_object, kept_headers, text
from receiver.verify.parsing import matching_secret, require_header, utc_rfc3339

_TOKEN = b"x-gitlab-token"
_KEPT_HEADERS = (
    b"x-gitlab-event",
    b"x-gitlab-event-uuid",
    b"x-gitlab-webhook-uuid",
    b"x-gitlab-instance",
    b"idempotency-key",
    b"user-agent",
)


@dataclass(frozen=True, slots=True)
class GitLabScheme:
    provider: str = "gitlab"

    def verify(self, headers: Headers, body: bytes, secrets: Sequence[bytes], now_s: float) -> int:
        # Digests of equal length, so the comparison doesn't even leak the token's length.
        token = hashlib.sha256(require_header(headers, _TOKEN)).digest()
        return matching_secret([hashlib.sha256(s).digest() for s in secrets], [token])

    def sample(self, now_s: float, *, event_id: str, event_type: str | None) -> Sample:
        """A merge request event (`merge_request.open`, or `event_type` as `<object_kind>.<action>`)."""
        kind = event_type or "merge_request.open"
        object_kind, _, action = kind.partition(".")
        attributes = {
            "iid": 7,
            "title": "Agent: fix the flaky test",
            "state": "opened",
            "updated_at": utc_rfc3339(now_s),
        }
        if action:
            attributes["action"] = action
        body = {
            "object_kind": object_kind,
            "event_type": object_kind,
            "user": {"id": 1, "username": "agent"},
            "project": {"id": 15, "path_with_namespace": "agents/ingest"},
            "object_attributes": attributes,
        }
        return Sample(orjson.dumps(body), event_id, kind)

    def sign(self, body: bytes, secret: bytes, now_s: float, *, event_id: str, event_type: str) -> Delivery:
        """GitLab sends the secret token itself; `X-Gitlab-Event` names the kind (`merge_request` is
        `Merge Request Hook`) and `Idempotency-Key` the delivery."""
        kind = event_type.partition(".")[0] or "push"
        headers = {
            "x-gitlab-token": secret.decode(),
            "x-gitlab-event": kind.replace("_", " ").title() + " Hook",
            "idempotency-key": event_id,
        }
        return Delivery(body, headers)

    def describe(self, source: str, headers: Headers, body: bytes) -> Verified:
        payload = json_object(headers, body)
        found = event_id(headers.get(b"idempotency-key"))
        kind = text(payload.get("object_kind")) or text(payload.get("event_name"))
        action = text(dig(payload, "object_attributes", "action"))
        updated = dig(payload, "object_attributes", "updated_at")
        return Verified(
            id=found or fallback_event_id(source, body),
            type=f"{kind}.{action}" if kind and action else kind,
            payload_json=body,
            occurred_at=from_rfc3339(updated),
            headers=kept_headers(headers, _KEPT_HEADERS),
        )
