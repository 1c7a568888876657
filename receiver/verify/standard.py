"""Standard Webhooks (and Svix and Clerk, which send the same thing under `svix-*` headers).

Headers: `webhook-id`, `webhook-timestamp` (unix seconds) and `webhook-signature`, a space-separated list
of `v1,<base64>` signatures (several while a secret is rotated); Svix and Clerk name them `svix-id`,
`svix-timestamp`, `svix-signature`, and either set is accepted on every source of this family. Each `v1`
is an HMAC-SHA256 of `<id>.<timestamp>.<raw body>`, keyed with the secret's bytes: the secret is
`whsec_<base64>`, and the key is the base64-decoded part (a secret without the prefix is base64 as it is).
Asymmetric `v1a` (Ed25519) signatures are not supported and are ignored. The timestamp must be within the
tolerance both ways (the reference libraries use 5 minutes).
Event id: `webhook-id` (the same on retries). Type: the body's `type`. Occurred: the body's `timestamp`
(RFC 3339 in the spec, milliseconds in Clerk's events).
Reference: the Standard Webhooks specification (standardwebhooks.com, `spec/standard-webhooks.md`) and the
`standardwebhooks` and `svix` libraries. The signature is computed by `primitives.standardwebhooks`, as the
consumers' forwarder signs.
"""

from __future__ import annotations

import base64
import binascii
import functools
import uuid
from collections.abc import Sequence
from dataclasses import dataclass

import orjson

from primitives.standardwebhooks import digest, secret_key, signed_headers
from receiver.errors import MalformedHeader, MissingHeader
from receiver.verify.base import Delivery, Headers, Sample, Verified
from receiver.verify.events import dig, event_id, from_rfc3339, from_unix, json_object, kept_headers, text
from receiver.verify.parsing import check_timestamp, matching_secret, require_header, unix_header, utc_rfc3339

# The header families: the standard's own, and Svix's branded names (also Clerk's).
_PREFIXES = (b"webhook-", b"svix-")
# Svix, and the providers sending through it, name the headers svix-id, svix-timestamp and svix-signature
# (Svix's and Clerk's docs, Resend's "Verify webhooks requests"): `send` signs under those names for them.
_SVIX_NAMED = frozenset({"svix", "clerk", "resend"})
# Unix milliseconds are past 10**11 (year 5138 in seconds), so a larger number is milliseconds.
_MS_THRESHOLD = 10**11
_MAX_SIGNATURES = 16
_KEPT_HEADERS = (b"user-agent",)


@dataclass(frozen=True, slots=True)
class StandardWebhooksScheme:
    tolerance_s: int = 300
    provider: str = "standardwebhooks"
    # Where the event type is: the body's `type`, or deeper (Anthropic's is `data.type`).
    type_path: tuple[str, ...] = ("type",)

    def check_secret(self, secret: bytes) -> None:
        """Raise `ValueError` unless the secret is `whsec_<base64>` (or bare base64) of a non-empty key."""
        if not secret_key(secret):
            raise ValueError("a Standard Webhooks secret must not be empty")

    def verify(self, headers: Headers, body: bytes, secrets: Sequence[bytes], now_s: float) -> int:
        prefix = _header_prefix(headers)
        msg_id = require_header(headers, prefix + b"id").strip()
        timestamp = unix_header(headers, prefix + b"timestamp")
        candidates = _signatures(require_header(headers, prefix + b"signature"))
        matched = matching_secret([digest(_key(s), msg_id, timestamp, body) for s in secrets], candidates)
        check_timestamp(int(timestamp), now_s, self.tolerance_s)
        return matched

    def describe(self, source: str, headers: Headers, body: bytes) -> Verified:
        payload = json_object(headers, body)
        found = event_id(headers.get(_header_prefix(headers) + b"id"))
        if found is None:
            raise MissingHeader("missing webhook-id header")
        stamp = payload.get("timestamp")
        if isinstance(stamp, int) and stamp > _MS_THRESHOLD:
            occurred_at = from_unix(stamp, per_second=1000)
        else:
            occurred_at = from_rfc3339(stamp) or from_unix(stamp)
        return Verified(
            id=found,
            type=text(dig(payload, *self.type_path)),
            payload_json=body,
            occurred_at=occurred_at,
            headers=kept_headers(headers, _KEPT_HEADERS),
        )

    def sample(self, now_s: float, *, event_id: str, event_type: str | None) -> Sample:
        """An event with a `msg_` id, as Svix-style senders name their messages (`event_id` is not used)."""
        message_id = f"msg_{uuid.uuid4().hex[:24]}"
        if self.provider == "anthropic":
            kind = event_type or "session.status_idled"
            data = {"type": kind, "id": "sesn_01", "organization_id": "org_01", "workspace_id": "wrkspc_01"}
            body = {"type": "event", "id": message_id, "created_at": utc_rfc3339(now_s), "data": data}
            return Sample(orjson.dumps(body), message_id, kind)
        kind = event_type or ("response.completed" if self.provider == "openai" else "invoice.paid")
        event = {"id": message_id, "object": "event", "created_at": int(now_s), "type": kind, "data": {"id": "resp_01"}}
        return Sample(orjson.dumps(event), message_id, kind)

    def sign(self, body: bytes, secret: bytes, now_s: float, *, event_id: str, event_type: str) -> Delivery:
        """`webhook-id`, `webhook-timestamp` and one `v1,<base64>` signature, as the specification signs
        (under the `svix-` names for the providers that send those)."""
        prefix = "svix-" if self.provider in _SVIX_NAMED else "webhook-"
        return Delivery(body, signed_headers([_key(secret)], event_id, int(now_s), body, prefix=prefix))


@functools.lru_cache(maxsize=64)
def _key(secret: bytes) -> bytes:
    # Secrets are checked at start-up (`check_secret`), so this never raises on a configured one.
    return secret_key(secret)


def _header_prefix(headers: Headers) -> bytes:
    for prefix in _PREFIXES:
        if prefix + b"id" in headers:
            return prefix
    return _PREFIXES[0]


def _signatures(value: bytes) -> list[bytes]:
    """The decoded `v1` signatures of a signature header; other versions are skipped."""
    found = []
    for item in value.split()[:_MAX_SIGNATURES]:
        version, sep, encoded = item.partition(b",")
        if not sep:
            raise MalformedHeader("webhook-signature entries must be '<version>,<base64>'")
        if version == b"v1":
            try:
                found.append(base64.b64decode(encoded, validate=True))
            except (binascii.Error, ValueError):
                raise MalformedHeader("webhook-signature is not base64") from None
    if not found:
        raise MalformedHeader("webhook-signature has no v1 signature")
    return found
