"""Contentful: request verification, an HMAC-SHA256 of a canonical request under the space's webhook signing
secret (64 characters), hex in `x-contentful-signature`.

The canonical request is four lines joined by `\\n`: the method (`POST`), the path Contentful called (the
source's configured public URL; a query string is escaped twice, as Contentful's toolkit does), the signed
headers as `name:value` joined by `;` in name order, and the body. Which headers are signed is listed in
`x-contentful-signed-headers`, always with `x-contentful-signed-headers` itself (its value being the sorted
list) and `x-contentful-timestamp` (unix ms, checked against the window both ways).
Event id: none is sent, so the body's SHA-256 (a change carries its own `sys.version`). Type: the
`X-Contentful-Topic` header (`ContentManagement.Entry.publish`, ...).
Reference: Contentful docs, "Webhooks: request verification", and `verifyRequest` in Contentful's
`@contentful/node-apps-toolkit`, which tests/unit/test_provider_node_sdks.py runs against this scheme.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import quote, urlsplit

import orjson

from receiver.errors import MalformedHeader
from receiver.verify.base import Delivery, Headers, Sample, Verified
from receiver.verify.events import dig, fallback_event_id, from_rfc3339, json_object, kept_headers, text
from receiver.verify.parsing import check_timestamp, matching_secret, require_header, unix_header

_SIGNATURE = b"x-contentful-signature"
_SIGNED_HEADERS = b"x-contentful-signed-headers"
_TIMESTAMP = b"x-contentful-timestamp"
_TOPIC = b"x-contentful-topic"
_KEPT_HEADERS = (_TOPIC, b"x-contentful-webhook-name", b"x-contentful-crn")
# A signing secret is exactly 64 characters (Contentful refuses any other).
SECRET_CHARS = 64
# Signed headers are a handful; a list much longer is not Contentful's.
_MAX_SIGNED_HEADERS = 32
# encodeURI leaves these as they are (besides letters, digits and `-_.~`, which `quote` keeps too).
_URI_SAFE = ";,/?:@&=+$!*'()#"


@dataclass(frozen=True, slots=True)
class ContentfulScheme:
    public_url: str
    tolerance_s: int = 300
    provider: str = "contentful"

    def check_secret(self, secret: bytes) -> None:
        """Raise `ValueError` where the secret can't be a Contentful signing secret."""
        if len(secret) != SECRET_CHARS:
            raise ValueError(f"a Contentful signing secret is {SECRET_CHARS} characters")

    def verify(self, headers: Headers, body: bytes, secrets: Sequence[bytes], now_s: float) -> int:
        candidate = require_header(headers, _SIGNATURE).strip().lower()
        timestamp = unix_header(headers, _TIMESTAMP, max_digits=14)
        listed = require_header(headers, _SIGNED_HEADERS).decode("latin-1").lower().split(",")
        names = sorted({name.strip() for name in listed if name.strip()} | {"x-contentful-signed-headers"})
        if len(names) > _MAX_SIGNED_HEADERS or "x-contentful-timestamp" not in names:
            raise MalformedHeader("x-contentful-signed-headers must list x-contentful-timestamp, and few headers")
        signed = self.canonical(body, {name: _value(headers, name, names) for name in names})
        matched = matching_secret(
            [hmac.new(s, signed, hashlib.sha256).hexdigest().encode() for s in secrets], [candidate]
        )
        check_timestamp(int(timestamp) / 1000, now_s, self.tolerance_s)
        return matched

    def canonical(self, body: bytes, signed_headers: dict[str, str]) -> bytes:
        """The canonical request of a POST to the public URL with these signed headers (names lower-case)."""
        parts = urlsplit(self.public_url)
        path = parts.path or "/"
        if parts.query:
            path = f"{path}?{quote(parts.query, safe='')}"
        lines = [
            "POST",
            quote(path, safe=_URI_SAFE),
            ";".join(f"{name}:{signed_headers[name]}" for name in sorted(signed_headers)),
        ]
        return "\n".join(lines).encode() + b"\n" + body

    def sample(self, now_s: float, *, event_id: str, event_type: str | None) -> Sample:
        """An entry as Contentful sends it when it is published: the entity, its `sys` and its fields."""
        stamp = datetime.fromtimestamp(now_s, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
        sys = {
            "type": "Entry",
            "id": event_id,
            "space": {"sys": {"type": "Link", "linkType": "Space", "id": "yadj1kx9rmg0"}},
            "environment": {"sys": {"id": "master", "type": "Link", "linkType": "Environment"}},
            "contentType": {"sys": {"type": "Link", "linkType": "ContentType", "id": "article"}},
            "revision": 1,
            "createdAt": stamp,
            "updatedAt": stamp,
        }
        body = orjson.dumps({"sys": sys, "fields": {"title": {"en-US": "What the agent learned today"}}})
        kind = event_type or "ContentManagement.Entry.publish"
        return Sample(body, event_id, kind, content_type="application/vnd.contentful.management.v1+json")

    def sign(self, body: bytes, secret: bytes, now_s: float, *, event_id: str, event_type: str) -> Delivery:
        headers = {
            "x-contentful-topic": event_type,
            "x-contentful-timestamp": str(int(now_s * 1000)),
            "x-contentful-signed-headers": "x-contentful-signed-headers,x-contentful-timestamp,x-contentful-topic",
        }
        headers["x-contentful-signature"] = hmac.new(secret, self.canonical(body, headers), hashlib.sha256).hexdigest()
        return Delivery(body, headers)

    def describe(self, source: str, headers: Headers, body: bytes) -> Verified:
        payload = json_object(headers, body)
        return Verified(
            id=fallback_event_id(source, body),
            type=text(headers.get(_TOPIC, b"").decode("latin-1")),
            payload_json=body,
            occurred_at=from_rfc3339(dig(payload, "sys", "updatedAt")),
            headers=kept_headers(headers, _KEPT_HEADERS),
        )


def _value(headers: Headers, name: str, names: list[str]) -> str:
    """A signed header's value as signed: trimmed; the signed-headers list is the sorted names."""
    if name == "x-contentful-signed-headers":
        return ",".join(names)
    value = headers.get(name.encode("latin-1"))
    if value is None:
        raise MalformedHeader(f"x-contentful-signed-headers lists {name}, which the request lacks")
    return value.decode("latin-1").strip()
