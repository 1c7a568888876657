"""Declarative providers: a scheme written as data, the `Spec`, run by one `SpecScheme`.

Most providers sign the same way: an HMAC over a template of the body (and a timestamp, an id, the URL),
in a header with a format and an encoding, with the event id and type somewhere in the headers or body. A
spec says which; the built-in ones are TOML files in `receiver/specs/`, and a sources file declares its own
in the same shape (`[sources.<name>.signature]`, `.event`, `.handshakes`, `.ack`). Code is left for the
unusual schemes.

    [signature]                      # how a delivery is signed
    kind = "hmac"                    # or "token": the header carries the secret itself (Telegram, Okta);
                                     #   "basic": Basic credentials, the secret `user:password` (Postmark)
    header = "Mux-Signature"         # where the signature is (`also`: more headers that may carry one)
    format = "items"                 # "plain": <prefix><signature>; "items": `t=…,v1=…` (`separator`,
    timestamp_key = "t"              #   `signature_key`, `timestamp_key`)
    signed = "{timestamp}.{body}"    # placeholders: {body} {form} (sorted form fields) {timestamp} {id} {url}
    algorithm = "sha256"             # sha1, sha256, sha512
    encoding = "hex"                 # hex, base64
    key = "raw"                      # the secret as is, or "base64"/"hex"-decoded
    window_s = 5                     # the provider's documented window, where tighter than the receiver's
    [event]
    id = ["body:id"]                 # first found: "header:<Name>", "body:<dotted.path>" (list indices: `entry.0`)
    id_required = true               # none found: 400 (default: the SHA-256 of source and body)
    type = ["body:type"]             # the same, "present:<path>|<path>" (the first present key) or "const:<text>"
    subject = ["body:object.id"]     # what the event is about: the record's CloudEvents `subject`
    occurred = ["body:created_at"]   # with occurred_unit: rfc3339, s, ms
    [[handshakes]]                   # receiver/verify/handshakes.py
    kind = "zoom"
    [ack]                            # the answer to an accepted event, where the provider wants its own
    status = 200
    body = "[accepted]"

A timestamp (a `timestamp_header`, or the `timestamp_key` entry) is checked against the receiver's window
both ways, after the signature matched. Without a signed time, a replay is only a duplicate event id.
"""

from __future__ import annotations

import base64
import binascii
import functools
import hashlib
import hmac
import re
import string
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

import orjson
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator

from receiver.errors import (
    BadRequest,
    MalformedHeader,
    MissingHeader,
    SignatureError,
    StaleTimestamp,
    UnsupportedMediaType,
)
from receiver.verify.base import Delivery, Handshake, HandshakeRule, Headers, Sample, Verified
from receiver.verify.events import (
    FORM,
    check_json_content_type,
    dig,
    event_id,
    fallback_event_id,
    from_rfc3339,
    from_unix,
    json_object,
    kept_headers,
    media_type,
    parse_form,
    parse_json,
    subject,
    text,
)
from receiver.verify.handshakes import HandshakeKind
from receiver.verify.parsing import (
    SIGNED_PLACEHOLDER,
    SIGNED_PLACEHOLDERS,
    check_timestamp,
    hmac_digest,
    matching_secret,
    parse_rfc3339,
    parse_unix,
    require_header,
    signature_items,
    signed_content,
)

HeaderName = Annotated[str, Field(pattern=r"^[A-Za-z0-9-]{1,128}$")]
# "header:<Name>", "body:<path>", "present:<path>|<path>…" (the last key of the first path present: the
# kind of a Telegram update), "each:<path>:<key>|<key>…" (the type the events of a batch share: below) or
# "const:<text>".
_PATH = r"[A-Za-z0-9_@$-]{1,64}(\.[A-Za-z0-9_@$-]{1,64}){0,7}"
_KEYS = r"[A-Za-z0-9_-]{1,64}(\|[A-Za-z0-9_-]{1,64}){0,7}"
_FIELD_SOURCE = re.compile(
    rf"header:[A-Za-z0-9-]{{1,128}}|body:{_PATH}|present:{_PATH}(\|{_PATH}){{0,31}}|each:{_PATH}:{_KEYS}|const:[!-~]{{1,128}}"
)


def _field_source(value: str) -> str:
    if _FIELD_SOURCE.fullmatch(value) is None:
        raise ValueError(
            f"must be header:, body:, present:, each: or const: with a valid name (pattern {_FIELD_SOURCE.pattern})"
        )
    return value


# Matched by Python's re rather than as a pydantic pattern: the Rust regex engine expands the bounded
# repetitions into a validator of ~8 MiB, held by every receiver process (docs/performance.md).
FieldSource = Annotated[str, AfterValidator(_field_source)]
# The type of a batch whose events are of several types ("each:"): one record per delivery, so no single
# event type would be true of it; a consumer routes it by this and reads every event.
MIXED_BATCH_TYPE = "batch"
_TEXT = "text/plain; charset=utf-8"
# Unix seconds have 10 digits until 2286; milliseconds have 13.
_SECONDS_DIGITS = 11


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class SignatureSpec(_Strict):
    """How a delivery is signed (see the module docstring)."""

    # hmac; token: the header carries the secret; basic: HTTP Basic credentials, the secret being
    # `user:password` (Postmark); jwt: an HS256 JWT keyed with the secret (Vonage, monday).
    kind: Literal["hmac", "token", "basic", "jwt"] = "hmac"
    header: HeaderName
    also: tuple[HeaderName, ...] = ()
    format: Literal["plain", "items"] = "plain"
    prefix: Annotated[str, Field(max_length=64)] = ""
    separator: Annotated[str, Field(min_length=1, max_length=4)] = ","
    signature_key: Annotated[str, Field(min_length=1, max_length=32)] = "v1"
    timestamp_key: Annotated[str, Field(min_length=1, max_length=32)] | None = None
    timestamp_header: HeaderName | None = None
    # Unix seconds or milliseconds, or an RFC 3339 date-time (Zendesk, Box), signed as sent; "auto": seconds
    # or milliseconds told apart by their length, where a provider doesn't say which it sends (Vapi).
    timestamp_unit: Literal["s", "ms", "auto", "rfc3339"] = "s"
    algorithm: Literal["sha1", "sha256", "sha512"] = "sha256"
    encoding: Literal["hex", "base64"] = "hex"
    key: Literal["raw", "base64", "hex"] = "raw"
    signed: Annotated[str, Field(min_length=6, max_length=256)] = "{body}"
    id_header: HeaderName | None = None
    # jwt: the claim holding the hex SHA-256 of the body (Vonage's `payload_hash`), checked where named.
    body_hash_claim: Annotated[str, Field(max_length=64)] | None = None
    # The provider's documented window in seconds (Paddle: 5), where tighter than the receiver's
    # WEBHOOK_TOLERANCE_SECONDS: the smaller of the two applies, both ways.
    window_s: Annotated[int, Field(ge=1, le=86_400)] | None = None

    @model_validator(mode="after")
    def _consistent(self) -> SignatureSpec:
        if "{body}" not in self.signed and "{form}" not in self.signed:
            raise ValueError("signed must contain {body} or {form}")
        if "{" in SIGNED_PLACEHOLDER.sub("", self.signed) or "}" in SIGNED_PLACEHOLDER.sub("", self.signed):
            raise ValueError(f"signed may only use the placeholders {', '.join(SIGNED_PLACEHOLDERS)}")
        if "{id}" in self.signed and self.id_header is None:
            raise ValueError("signed names {id}: set id_header")
        timed = self.timestamp_header is not None or self.timestamp_key is not None
        if "{timestamp}" in self.signed and not timed:
            raise ValueError("signed names {timestamp}: set timestamp_header or timestamp_key")
        if self.timestamp_key is not None and self.format != "items":
            raise ValueError("timestamp_key applies to format 'items' only")
        if self.kind != "hmac" and (self.format != "plain" or timed or self.signed != "{body}"):
            raise ValueError("a token signature is a plain header: no format, timestamp or signed template")
        if self.window_s is not None and not self.timed:
            raise ValueError("window_s needs a signed time (timestamp_header, timestamp_key or a jwt)")
        return self

    @property
    def timed(self) -> bool:
        """Whether a signed time is checked (a JWT's `iat` and `exp`)."""
        return self.timestamp_header is not None or self.timestamp_key is not None or self.kind == "jwt"


class EventSpec(_Strict):
    """Where a verified delivery's event id, type and time are."""

    body: Literal["json", "any_json", "form"] = "json"
    id: tuple[FieldSource, ...] = ()
    # Without an id the delivery is a 400 rather than named by the SHA-256 of source and body (providers
    # that always send one: a delivery without it is none of theirs).
    id_required: bool = False
    type: tuple[FieldSource, ...] = ()
    # What the event is about (a repository, a call, a page): the record's CloudEvents `subject`.
    subject: tuple[FieldSource, ...] = ()
    occurred: tuple[FieldSource, ...] = ()
    occurred_unit: Literal["rfc3339", "s", "ms"] = "rfc3339"
    keep: tuple[HeaderName, ...] = ()

    @model_validator(mode="after")
    def _id_to_require(self) -> EventSpec:
        if self.id_required and not self.id:
            raise ValueError("id_required needs an id to look for")
        return self


class AckSpec(_Strict):
    """The answer to an accepted event, for providers that want their own (Adyen: `[accepted]`)."""

    status: Annotated[int, Field(ge=200, le=299)] = 200
    body: Annotated[str, Field(max_length=256)] = ""
    content_type: Annotated[str, Field(max_length=128)] = _TEXT


class SampleSpec(_Strict):
    """A delivery for `send`: `${id}`, `${type}`, `${now}`, `${now_ms}` and `${now_iso}` are filled in."""

    body: Annotated[str, Field(min_length=2, max_length=65_536)]
    type: str = ""
    content_type: str = "application/json"
    # Headers the provider sends with every delivery besides the signature (Box's signature version).
    headers: dict[HeaderName, Annotated[str, Field(max_length=256)]] = Field(default_factory=dict)


class Spec(_Strict):
    """One declarative provider."""

    provider: Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9_-]{0,63}$")]
    # Where the scheme is documented, and how this spec is proven (the providers table shows both).
    reference: Annotated[str, Field(max_length=500)] = ""
    proof: Annotated[str, Field(max_length=500)] = ""
    signature: SignatureSpec
    event: EventSpec = EventSpec()
    handshakes: tuple[HandshakeKind, ...] = ()
    ack: AckSpec | None = None
    sample: SampleSpec | None = None

    @property
    def signs_url(self) -> bool:
        return "{url}" in self.signature.signed


@dataclass(frozen=True, slots=True)
class SpecScheme:
    """The scheme a `Spec` describes, with the receiver's window and (for `{url}`) the source's public URL."""

    spec: Spec
    tolerance_s: int = 300
    public_url: str = ""

    @property
    def provider(self) -> str:
        return self.spec.provider

    @property
    def handshakes(self) -> tuple[HandshakeRule, ...]:
        return self.spec.handshakes

    @property
    def window_s(self) -> int:
        """How far a signed time may be from now, either way: the receiver's, or the provider's if tighter."""
        documented = self.spec.signature.window_s
        return self.tolerance_s if documented is None else min(self.tolerance_s, documented)

    @property
    def ack(self) -> Handshake | None:
        ack = self.spec.ack
        return None if ack is None else Handshake(ack.body.encode(), ack.content_type.encode(), ack.status)

    def check_secret(self, secret: bytes) -> None:
        """Raise `ValueError` where the secret can't be the key the spec names (base64, hex)."""
        derive_key(self.spec.signature.key, secret)

    def verify(self, headers: Headers, body: bytes, secrets: Sequence[bytes], now_s: float) -> int:
        sig = self.spec.signature
        if sig.kind == "jwt":
            return self._verify_jwt(headers, body, secrets, now_s)
        candidates, timestamp = self._read(headers)
        if sig.kind != "hmac":
            return matching_secret([_credential(sig.kind, s) for s in secrets], candidates)
        signed = signed_content(sig.signed, headers, body, timestamp, id_header=sig.id_header, url=self.public_url)
        expected = [self._encode(hmac_digest(sig.algorithm, derive_key(sig.key, s), signed)) for s in secrets]
        matched = matching_secret(expected, candidates)
        if timestamp:
            check_timestamp(_seconds(timestamp, sig.timestamp_unit), now_s, self.window_s)
        return matched

    def describe(self, source: str, headers: Headers, body: bytes) -> Verified:
        event = self.spec.event
        payload_json = body
        payload: Any
        if event.body == "form":
            if media_type(headers, FORM) != FORM:
                raise UnsupportedMediaType("content type must be application/x-www-form-urlencoded")
            payload = parse_form(body)
            payload_json = orjson.dumps(payload)
        elif event.body == "any_json":
            check_json_content_type(headers)
            payload = parse_json(body)
        else:
            payload = json_object(headers, body)
        found = next((v for v in (event_id(_lookup(s, headers, payload)) for s in event.id) if v), None)
        if found is None and event.id_required:
            raise BadRequest(f"a {self.provider} delivery must have an event id ({', '.join(event.id)})")
        kind = next((v for v in (text(_lookup(s, headers, payload)) for s in event.type) if v), "")
        about = next((v for v in (subject(_lookup(s, headers, payload)) for s in event.subject) if v), None)
        return Verified(
            id=found or fallback_event_id(source, body),
            type=kind,
            payload_json=payload_json,
            occurred_at=self._occurred(headers, payload),
            headers=kept_headers(headers, [name.lower().encode() for name in event.keep]),
            subject=about,
        )

    def sign(self, body: bytes, secret: bytes, now_s: float, *, event_id: str, event_type: str) -> Delivery:
        sig = self.spec.signature
        timestamp = _stamp(now_s, sig.timestamp_unit) if sig.timed else ""
        headers: dict[str, str] = dict(self.spec.sample.headers) if self.spec.sample else {}
        if sig.id_header is not None:
            headers[sig.id_header] = event_id
        for where, values in ((self.spec.event.id, event_id), (self.spec.event.type, event_type)):
            for source in where:
                if source.startswith("header:") and values:
                    headers.setdefault(source[len("header:") :], values)
                    break
        if sig.timestamp_header is not None:
            headers[sig.timestamp_header] = timestamp
        if sig.kind in ("token", "basic"):
            headers[sig.header] = sig.prefix + _credential(sig.kind, secret).decode()
            return Delivery(body, headers)
        if sig.kind == "jwt":
            claims: dict[str, Any] = {"iat": int(now_s), "exp": int(now_s) + 300, "jti": event_id}
            if sig.body_hash_claim is not None:
                claims[sig.body_hash_claim] = hashlib.sha256(body).hexdigest()
            signing_input = _b64url(b'{"alg":"HS256","typ":"JWT"}') + b"." + _b64url(orjson.dumps(claims))
            mac = _b64url(hmac_digest("sha256", derive_key(sig.key, secret), signing_input))
            headers[sig.header] = sig.prefix + (signing_input + b"." + mac).decode()
            return Delivery(body, headers)
        wire = {name.lower().encode(): value.encode() for name, value in headers.items()}
        signed = signed_content(
            sig.signed, wire, body, timestamp.encode(), id_header=sig.id_header, url=self.public_url
        )
        signature = self._encode(hmac_digest(sig.algorithm, derive_key(sig.key, secret), signed)).decode()
        if sig.format == "items":
            entries = [f"{sig.signature_key}={signature}"]
            if sig.timestamp_key is not None:
                entries.insert(0, f"{sig.timestamp_key}={timestamp}")
            headers[sig.header] = sig.separator.join(entries)
        else:
            headers[sig.header] = sig.prefix + signature
        return Delivery(body, headers)

    def sample(self, now_s: float, *, event_id: str, event_type: str | None) -> Sample:
        """The spec's sample delivery, filled in."""
        sample = self.spec.sample or SampleSpec(body='{"id":"${id}","type":"${type}"}', type="sample.event")
        kind = event_type or sample.type
        values = {
            "id": event_id,
            "type": kind,
            "now": str(int(now_s)),
            "now_ms": str(int(now_s * 1000)),
            "now_iso": _iso(now_s),
        }
        body = string.Template(sample.body).safe_substitute(values).encode()
        return Sample(body, event_id, kind, sample.content_type)

    def _verify_jwt(self, headers: Headers, body: bytes, secrets: Sequence[bytes], now_s: float) -> int:
        """An HS256 JWT in the header: signature, then `iat` within the window, `exp` not passed, the body hash."""
        sig = self.spec.signature
        value = require_header(headers, sig.header.lower().encode()).strip()
        if not value.startswith(sig.prefix.encode()):
            raise MalformedHeader(f"{sig.header} must start with {sig.prefix!r}")
        token = value[len(sig.prefix) :]
        if not sig.prefix and token[:7].lower() == b"bearer ":
            # A bare JWT (as monday documents it) or the same token under the Bearer scheme.
            token = token[7:].lstrip()
        parts = token.split(b".")
        if len(parts) != 3:
            raise MalformedHeader(f"{sig.header} is not a JWT")
        header, claims = _jwt_json(parts[0]), _jwt_json(parts[1])
        if header.get("alg") != "HS256":
            raise MalformedHeader(f"{sig.header}: only HS256 JWTs are accepted")
        signing_input = parts[0] + b"." + parts[1]
        expected = [hmac_digest("sha256", derive_key(sig.key, s), signing_input) for s in secrets]
        matched = matching_secret(expected, [_unb64url(parts[2])])
        if sig.body_hash_claim is not None:
            claimed = claims.get(sig.body_hash_claim)
            if not isinstance(claimed, str) or not hmac.compare_digest(claimed, hashlib.sha256(body).hexdigest()):
                raise SignatureError(f"the JWT's {sig.body_hash_claim} is not the body's SHA-256")
        issued, expires = claims.get("iat"), claims.get("exp")
        if isinstance(issued, int | float) and not isinstance(issued, bool):
            check_timestamp(issued, now_s, self.window_s)
        if isinstance(expires, int | float) and not isinstance(expires, bool) and now_s > expires + self.window_s:
            raise StaleTimestamp("the JWT has expired")
        return matched

    def _read(self, headers: Headers) -> tuple[list[bytes], bytes]:
        """The candidate signatures of every signature header present, and the signed timestamp (or b"")."""
        sig = self.spec.signature
        candidates: list[bytes] = []
        timestamp = b""
        names = [sig.header, *sig.also]
        for name in names:
            value = headers.get(name.lower().encode(), b"").strip()
            if not value:
                continue
            if sig.format == "items":
                for key, item in _items(value, sig.separator.encode()):
                    if key == sig.signature_key.encode():
                        candidates.append(item.strip())
                    elif sig.timestamp_key is not None and key == sig.timestamp_key.encode() and not timestamp:
                        timestamp = item.strip()
            else:
                if not value.startswith(sig.prefix.encode()):
                    raise MalformedHeader(f"{name} must start with {sig.prefix!r}")
                candidates.append(value[len(sig.prefix) :])
        if not candidates:
            if any(headers.get(name.lower().encode()) for name in names):
                raise MalformedHeader(f"{sig.header} has no {sig.signature_key}= signature")
            raise MissingHeader(f"missing {sig.header} header")
        if sig.kind == "hmac" and sig.encoding == "hex":
            candidates = [c.lower() for c in candidates]
        if sig.timestamp_header is not None:
            timestamp = require_header(headers, sig.timestamp_header.lower().encode()).strip()
        if sig.timed:
            if not timestamp:
                raise MalformedHeader(f"{sig.header} has no {sig.timestamp_key}= timestamp")
            if sig.timestamp_unit == "rfc3339":
                parse_rfc3339(timestamp, name=f"{self.provider} timestamp")
            else:
                digits = 11 if sig.timestamp_unit == "s" else 14
                parse_unix(timestamp, name=f"{self.provider} timestamp", max_digits=digits)
        return candidates, timestamp

    def _encode(self, digest: bytes) -> bytes:
        return digest.hex().encode() if self.spec.signature.encoding == "hex" else base64.b64encode(digest)

    def _occurred(self, headers: Headers, payload: Any) -> Any:
        unit = self.spec.event.occurred_unit
        for source in self.spec.event.occurred:
            value = _lookup(source, headers, payload)
            when = (
                from_rfc3339(value) if unit == "rfc3339" else from_unix(value, per_second=1000 if unit == "ms" else 1)
            )
            if when is not None:
                return when
        return None


def _items(value: bytes, separator: bytes) -> list[tuple[bytes, bytes]]:
    """The `key=value` entries of an items header, where whitespace also separates entries: Persona sends
    one `t=…,v1=…` group per secret, space-separated, while it rotates a secret."""
    items = []
    for key, item in signature_items(value, separator=separator):
        first, *rest = item.split() or [b""]
        items.append((key, first))
        items.extend(signature_items(b" ".join(rest), separator=b" "))
    return items


def _credential(kind: str, secret: bytes) -> bytes:
    """What the header carries for a secret: the secret itself, or (basic) `user:password` in base64."""
    return base64.b64encode(secret) if kind == "basic" else secret


def _lookup(source: str, headers: Headers, payload: Any) -> Any:
    where, _, name = source.partition(":")
    if where == "header":
        value = headers.get(name.lower().encode())
        return None if value is None else value.decode("latin-1")
    if where == "const":
        return name
    if where == "each":
        path, _, keys = name.partition(":")
        return _batch_type(dig(payload, *path.split(".")), keys.split("|"))
    if where == "present":
        for path in name.split("|"):
            if dig(payload, *path.split(".")) is not None:
                return path.rsplit(".", 1)[-1]
        return None
    return dig(payload, *name.split("."))


def _batch_type(events: Any, keys: list[str]) -> str | None:
    """The type the events of a batch share, `MIXED_BATCH_TYPE` when they differ, None for no batch or an
    empty one. `events` is a JSON array, or its text (Mandrill's `mandrill_events` form field); an event's
    type is the first of `keys` it holds as text (Mandrill: `event`, or `type` for its sync events)."""
    if isinstance(events, str):
        try:
            events = orjson.loads(events)
        except orjson.JSONDecodeError:
            return None
    if not isinstance(events, list) or not events:
        return None
    kinds = {
        next((e[key] for key in keys if isinstance(e.get(key), str)), None) if isinstance(e, dict) else None
        for e in events
    }
    if len(kinds) > 1:
        return MIXED_BATCH_TYPE
    return kinds.pop()


def _seconds(timestamp: bytes, unit: str) -> float:
    """A checked signed timestamp as unix seconds."""
    if unit == "rfc3339":
        return parse_rfc3339(timestamp, name="timestamp").timestamp()
    millis = unit == "ms" or (unit == "auto" and len(timestamp) > _SECONDS_DIGITS)
    return int(timestamp) / (1000 if millis else 1)


def _stamp(now_s: float, unit: str) -> str:
    if unit == "rfc3339":
        return datetime.fromtimestamp(int(now_s), UTC).isoformat().replace("+00:00", "Z")
    return str(int(now_s * 1000) if unit == "ms" else int(now_s))


def _iso(now_s: float) -> str:
    return datetime.fromtimestamp(now_s, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _b64url(data: bytes) -> bytes:
    return base64.urlsafe_b64encode(data).rstrip(b"=")


def _unb64url(part: bytes) -> bytes:
    try:
        return base64.urlsafe_b64decode(part + b"=" * (-len(part) % 4))
    except (binascii.Error, ValueError):
        raise MalformedHeader("the JWT is not base64url") from None


def _jwt_json(part: bytes) -> dict[str, Any]:
    try:
        value = orjson.loads(_unb64url(part))
    except orjson.JSONDecodeError:
        value = None
    if not isinstance(value, dict):
        raise MalformedHeader("the JWT's header and claims must be JSON objects")
    return value


def derive_key(mode: str, secret: bytes) -> bytes:
    """The HMAC key of a secret: as is, or base64- or hex-decoded; `ValueError` where it can't be decoded."""
    if mode == "raw":
        return secret
    return _decoded_key(mode, secret)


@functools.lru_cache(maxsize=256)
def _decoded_key(mode: str, secret: bytes) -> bytes:
    try:
        key = base64.b64decode(secret, validate=True) if mode == "base64" else bytes.fromhex(secret.decode("ascii"))
    except (binascii.Error, ValueError, UnicodeDecodeError):
        raise ValueError(f"the secret must be {mode}") from None
    if not key:
        raise ValueError("the secret must not be empty")
    return key
