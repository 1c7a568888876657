"""What a record carries around the envelope: our `webhook-*` headers and the CloudEvents attributes.

Every record we write, on event, retry and dead-letter topics, is a CloudEvent 1.0 under the Kafka protocol
binding, so a CloudEvents SDK reads it as it is (https://github.com/cloudevents/spec, `kafka-protocol-binding.md`):

- binary mode (the default): the attributes are `ce_` headers, `content-type: application/json`, and the
  value is our envelope, unchanged, so every reader of the envelope keeps working;
- structured mode (per source, `cloudevents = "structured"`): `content-type: application/cloudevents+json`
  and the value is the whole CloudEvent in JSON, the envelope as its `data`.

Attributes: `id` is the event id, `source` names the endpoint (`urn:webhooks:<source>`), `type` is
`<provider>.<type>` (the provider alone where it gives no type), `time` is when the provider says the event
happened, else when we received it, `subject` what the provider names the event's subject where it does,
`traceparent` the W3C trace context (the distributed-tracing extension), `tenant` (an extension attribute of
ours) the tenant of a registry source that names one, also in our `webhook-tenant` header.

`RecordFormat.headers` is the one place an event's record headers are built: the receiver computes a
`RecordFormat` per source at start-up, and the consumers complete the headers of a record that lacks them
(written by an older receiver or another producer) before they send it to a retry or dead-letter topic.
`failure_headers` is the one place the headers of those retry and dead-letter records are built.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

import orjson
import pydantic_core

from schemas.envelope import Envelope
from schemas.topics import (
    HEADER_ATTEMPT,
    HEADER_CE_ID,
    HEADER_CE_SOURCE,
    HEADER_CE_SPECVERSION,
    HEADER_CE_SUBJECT,
    HEADER_CE_TENANT,
    HEADER_CE_TIME,
    HEADER_CE_TRACEPARENT,
    HEADER_CE_TYPE,
    HEADER_CONTENT_TYPE,
    HEADER_ERROR_CLASS,
    HEADER_ERROR_MESSAGE,
    HEADER_FAILED_HANDLERS,
    HEADER_ID,
    HEADER_NOT_BEFORE,
    HEADER_ORIGINAL_OFFSET,
    HEADER_ORIGINAL_PARTITION,
    HEADER_ORIGINAL_TOPIC,
    HEADER_PROVIDER,
    HEADER_SOURCE,
    HEADER_TENANT,
    HEADER_TRACEPARENT,
    HEADER_TYPE,
)

CLOUDEVENTS_SPECVERSION = "1.0"
# The value's media type in binary mode (the envelope), and the structured mode's (the whole CloudEvent).
JSON_MEDIA_TYPE = "application/json"
CLOUDEVENTS_JSON_MEDIA_TYPE = "application/cloudevents+json"
SOURCE_URI_PREFIX = "urn:webhooks:"

Mode = Literal["binary", "structured"]
RecordHeaders = list[tuple[str, bytes]]

_JSON = JSON_MEDIA_TYPE.encode()
_CLOUDEVENTS_JSON = CLOUDEVENTS_JSON_MEDIA_TYPE.encode()
# Every CloudEvents header a record of ours may carry: what marks a record as carrying them already.
CLOUDEVENTS_HEADERS = frozenset(
    {
        HEADER_CE_SPECVERSION,
        HEADER_CE_ID,
        HEADER_CE_SOURCE,
        HEADER_CE_TYPE,
        HEADER_CE_TIME,
        HEADER_CE_SUBJECT,
        HEADER_CE_TENANT,
        HEADER_CE_TRACEPARENT,
        HEADER_CONTENT_TYPE,
    }
)


def cloudevent_source(source: str) -> str:
    """The CloudEvents `source` of a source's events: an absolute URI naming the endpoint."""
    return SOURCE_URI_PREFIX + source


def cloudevent_type(provider: str, type: str) -> str:
    """The CloudEvents `type`: the provider's event type under the provider's name (never empty)."""
    return f"{provider}.{type}" if type else provider


def rfc3339(moment: datetime) -> bytes:
    """An aware datetime as RFC 3339, `Z` for UTC (the form of the envelope's times)."""
    return orjson.dumps(moment, option=orjson.OPT_UTC_Z)[1:-1]


@dataclass(frozen=True, slots=True)
class RecordFormat:
    """How the records of one source are written; what doesn't change per event is computed once.

    Attributes:
        source: the endpoint's name (`POST /webhooks/<source>`).
        provider: its provider.
        mode: CloudEvents binary mode (attributes as headers) or structured mode (the value is the event).
        tenant: the tenant of a registry source that names one.
    """

    source: str
    provider: str
    mode: Mode = "binary"
    tenant: str | None = None
    _ours: tuple[tuple[str, bytes], ...] = field(init=False, repr=False, compare=False)
    _cloudevents: tuple[tuple[str, bytes], ...] = field(init=False, repr=False, compare=False)
    _type_prefix: bytes = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        ours: tuple[tuple[str, bytes], ...] = (
            (HEADER_PROVIDER, self.provider.encode()),
            (HEADER_SOURCE, self.source.encode()),
        )
        cloudevents: tuple[tuple[str, bytes], ...] = (
            (HEADER_CE_SPECVERSION, CLOUDEVENTS_SPECVERSION.encode()),
            (HEADER_CE_SOURCE, cloudevent_source(self.source).encode()),
            (HEADER_CONTENT_TYPE, _JSON),
        )
        if self.tenant is not None:
            ours += ((HEADER_TENANT, self.tenant.encode()),)
            cloudevents += ((HEADER_CE_TENANT, self.tenant.encode()),)
        if self.mode == "structured":
            cloudevents = ((HEADER_CONTENT_TYPE, _CLOUDEVENTS_JSON),)
        object.__setattr__(self, "_ours", ours)
        object.__setattr__(self, "_cloudevents", cloudevents)
        object.__setattr__(self, "_type_prefix", self.provider.encode() + b".")

    @property
    def structured(self) -> bool:
        return self.mode == "structured"

    def headers(
        self, *, id: str, type: str, time: datetime, subject: str | None = None, traceparent: bytes | None = None
    ) -> RecordHeaders:
        """The headers of one event's record.

        Args:
            id: the event id (also the record key).
            type: the provider's event type, `""` when it has none.
            time: when the provider says it happened, else when it was received; timezone-aware.
            subject: what the provider names the event's subject, if it does.
            traceparent: a valid W3C `traceparent`, if the event has one.
        """
        key = id.encode()
        type_bytes = type.encode()
        headers = [(HEADER_ID, key), *self._ours, (HEADER_TYPE, type_bytes), *self._cloudevents]
        if self.mode == "binary":
            headers += [
                (HEADER_CE_ID, key),
                (HEADER_CE_TYPE, self._type_prefix + type_bytes if type else self.provider.encode()),
                (HEADER_CE_TIME, rfc3339(time)),
            ]
            if subject:
                headers.append((HEADER_CE_SUBJECT, subject.encode()))
            if traceparent is not None:
                headers.append((HEADER_CE_TRACEPARENT, traceparent))
        if traceparent is not None:
            headers.append((HEADER_TRACEPARENT, traceparent))
        return headers

    def value(
        self,
        envelope: bytes,
        *,
        id: str,
        type: str,
        time: datetime,
        subject: str | None = None,
        traceparent: bytes | None = None,
    ) -> bytes:
        """The record's value: the envelope itself (binary mode) or the CloudEvent around it (structured)."""
        if self.mode == "binary":
            return envelope
        event: dict[str, object] = {
            "specversion": CLOUDEVENTS_SPECVERSION,
            "id": id,
            "source": cloudevent_source(self.source),
            "type": cloudevent_type(self.provider, type),
            "time": time,
            "datacontenttype": JSON_MEDIA_TYPE,
        }
        if subject:
            event["subject"] = subject
        if self.tenant is not None:
            event["tenant"] = self.tenant
        if traceparent is not None:
            event["traceparent"] = traceparent.decode()
        event["data"] = orjson.Fragment(envelope)
        return orjson.dumps(event, option=orjson.OPT_UTC_Z)


def missing_headers(present: RecordHeaders, envelope: Envelope) -> RecordHeaders:
    """The headers `RecordFormat.headers` would give `envelope` that `present` lacks: none when the record
    carries CloudEvents headers already (ours are kept as they are, subject and all)."""
    names = {name for name, _ in present}
    if names & CLOUDEVENTS_HEADERS:
        return []
    traceparent = next((value for name, value in present if name == HEADER_TRACEPARENT), None)
    built = RecordFormat(envelope.source, envelope.provider, tenant=envelope.tenant).headers(
        id=envelope.id,
        type=envelope.type,
        time=envelope.occurred_at or envelope.received_at,
        traceparent=traceparent,
    )
    return [(name, value) for name, value in built if name not in names]


# Header values stay small and never carry payload data: an error message is cut to this many characters.
MAX_ERROR_MESSAGE_CHARS = 300
# Headers of a failure; replaced (not repeated) when a retried record fails again.
_FAILURE_HEADERS = frozenset(
    {HEADER_ATTEMPT, HEADER_NOT_BEFORE, HEADER_ERROR_CLASS, HEADER_ERROR_MESSAGE, HEADER_FAILED_HANDLERS}
)
_ORIGIN_HEADERS = frozenset({HEADER_ORIGINAL_TOPIC, HEADER_ORIGINAL_PARTITION, HEADER_ORIGINAL_OFFSET})


def failure_headers(
    present: Iterable[tuple[str, bytes]],
    origin: tuple[str, int, int],
    attempt: int,
    error: BaseException,
    *,
    message: str | None = None,
    not_before_ms: int | None = None,
    envelope: Envelope | None = None,
    handlers: Sequence[str] = (),
) -> RecordHeaders:
    """The headers of the record that carries a failed event to a retry topic (`not_before_ms` given) or a DLQ.

    Args:
        present: the failed record's headers; those of an earlier failure are replaced.
        origin: the topic, partition and offset of the failed record; a record that carries an origin already
            (a retry record) keeps it.
        attempt: the attempt the record carries (`HEADER_ATTEMPT`).
        error: the failure: its class and text (cut to `MAX_ERROR_MESSAGE_CHARS`) go into the headers.
        message: the text to give in place of the error's.
        not_before_ms: for a retry, when it is due (epoch ms, `HEADER_NOT_BEFORE`).
        envelope: the record's envelope, where it has a valid one: fills in the headers it lacks
            (`missing_headers`).
        handlers: the names of the handlers that failed (`HEADER_FAILED_HANDLERS`); none where no handler ran
            (an invalid record).
    """
    headers = [(name, value) for name, value in present if name not in _FAILURE_HEADERS]
    if envelope is not None:
        headers += missing_headers(headers, envelope)
    if not any(name in _ORIGIN_HEADERS for name, _ in headers):
        topic, partition, offset = origin
        headers += [
            (HEADER_ORIGINAL_TOPIC, topic.encode()),
            (HEADER_ORIGINAL_PARTITION, str(partition).encode()),
            (HEADER_ORIGINAL_OFFSET, str(offset).encode()),
        ]
    headers += [
        (HEADER_ATTEMPT, str(attempt).encode()),
        (HEADER_ERROR_CLASS, _utf8(type(error).__name__)),
        (HEADER_ERROR_MESSAGE, _utf8((str(error) if message is None else message)[:MAX_ERROR_MESSAGE_CHARS])),
    ]
    if handlers:
        # Names hold no comma (`consumers.Registry` refuses one), so the list splits back unambiguously.
        headers.append((HEADER_FAILED_HANDLERS, _utf8(",".join(handlers))))
    if not_before_ms is not None:
        headers.append((HEADER_NOT_BEFORE, str(not_before_ms).encode()))
    return headers


def _utf8(text: str) -> bytes:
    # An exception's text may hold lone surrogates (decoded with surrogateescape): a header is UTF-8 all the same.
    return text.encode("utf-8", "replace")


def envelope_of(value: bytes, content_type: str | None) -> Envelope:
    """The envelope a record's value carries, in either mode; raises `pydantic.ValidationError`."""
    if content_type != CLOUDEVENTS_JSON_MEDIA_TYPE:
        return Envelope.from_bytes(value)
    try:
        event = pydantic_core.from_json(value)
    except ValueError:
        return Envelope.model_validate_json(value)  # not JSON: let pydantic say so, as a ValidationError
    return Envelope.model_validate(event.get("data") if isinstance(event, dict) else None)
