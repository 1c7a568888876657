"""`POST /webhooks/{source}`: the hot path, as a bare ASGI app.

It sits in front of FastAPI (see `app.py`) rather than inside it: FastAPI's per-route machinery costs
more than the verification itself (docs/performance.md, "Why the code is shaped this way"). Everything
else — health, metrics, docs — stays in FastAPI.

Order of checks, each cheaper than the next and none trusting what came before it:
source exists -> header size -> declared body size -> body read within the limit, the deadline and the
budget of unverified bytes (pending.py: a 503 over it) -> signature (and timestamp; keys a provider
publishes are fetched first, a failed fetch is a 503) -> parse -> publish.
Handshakes (`Source.handshakes`, receiver/verify/handshakes.py): a method other than POST is answered only
where one of the source's handshakes comes with it, else 405. Unsigned handshakes (an echo) are answered
before the signature is checked, signed ones (Zoom, Okta, Xero, and the code schemes' Slack, Discord,
Twitch) only after it verified; either way instead of parsing and publishing. A source with its own
acknowledgement (Adyen's `[accepted]`) answers an accepted event with it instead of the 202.
A `RequestError` becomes its response here, and only here.
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import TYPE_CHECKING
from urllib.parse import parse_qsl

import orjson
from starlette.types import Receive, Scope, Send

from receiver.errors import (
    BadRequest,
    BodyTimeout,
    BodyTooLarge,
    HeadersTooLarge,
    RequestError,
    SignatureError,
    UnknownSource,
)
from receiver.metrics import UNKNOWN_SOURCE_LABEL, ReceiverMetrics
from receiver.pending import Hold, PendingBytes
from receiver.publish import Publisher
from receiver.sources import Source
from receiver.verify import Handshake, Inbound
from receiver.verify.handshakes import handshake_methods
from schemas.envelope import encode_envelope

if TYPE_CHECKING:
    from receiver.tracing import RequestTrace, Tracing

logger = logging.getLogger(__name__)
# The per-request line, a logger of its own so it can be turned down alone (`receiver.requests`).
requests_log = logging.getLogger("receiver.requests")

PATH_PREFIX = "/webhooks/"
# W3C Trace Context `traceparent`, version 00: anything else is not passed on (tracing is best effort).
_TRACEPARENT = re.compile(rb"00-(?!0{32})[0-9a-f]{32}-(?!0{16})[0-9a-f]{16}-[0-9a-f]{2}")
_JSON_HEADERS = [(b"content-type", b"application/json")]


class WebhookRoute:
    """The ASGI app behind `POST /webhooks/{source}`.

    Args:
        sources: the enabled sources by name.
        publisher: where verified events go.
        metrics: the receiver's metrics.
        max_body_bytes: larger bodies get a 413 before they are read whole.
        body_timeout_s: a body not read whole within this many seconds gets a 408 (slow or stalled senders).
        max_header_bytes: headers adding up to more get a 431 before the body is read.
        max_pending_bytes: the bodies of requests not yet verified hold at most this many bytes together; a
            request that doesn't fit gets a 503.
        retry_after_s: the `Retry-After` of a 503.
        clock: seconds since the epoch (injected so tests can move time).
        tracing: OpenTelemetry spans of each request (`receiver.tracing`); None, the default, is off.
    """

    def __init__(
        self,
        *,
        sources: Mapping[str, Source],
        publisher: Publisher,
        metrics: ReceiverMetrics,
        max_body_bytes: int,
        retry_after_s: int,
        body_timeout_s: float = 10.0,
        max_header_bytes: int = 65_536,
        max_pending_bytes: int = 64 * 1_048_576,
        clock: Callable[[], float] = time.time,
        tracing: Tracing | None = None,
    ) -> None:
        self._sources = dict(sources)
        self._publisher = publisher
        self._metrics = metrics
        self._max_body_bytes = max_body_bytes
        self._body_timeout_s = body_timeout_s
        self._max_header_bytes = max_header_bytes
        self._pending = PendingBytes(max_pending_bytes, metrics.pending_bytes)
        self._unavailable_headers = [*_JSON_HEADERS, (b"retry-after", str(retry_after_s).encode())]
        self._clock = clock
        self._tracing = tracing
        # The hot path's metric children, looked up once rather than by labels on every request.
        self._accepted = {
            name: metrics.received.labels(name, src.provider, "accepted") for name, src in sources.items()
        }
        self._durations = {name: metrics.request_duration.labels(name) for name in [*sources, UNKNOWN_SOURCE_LABEL]}
        # The methods besides POST each source answers (its handshakes'), and its own acknowledgement.
        self._methods = {name: handshake_methods(src.handshakes) for name, src in sources.items()}
        self._acks = {name: src.ack for name, src in sources.items() if src.ack is not None}
        self._matches = {
            name: [metrics.secret_matches.labels(name, str(index)) for index in range(len(src.secrets))]
            for name, src in sources.items()
        }

    @property
    def source_names(self) -> list[str]:
        return list(self._sources)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        started = time.perf_counter()
        source = self._sources.get(scope["path"][len(PATH_PREFIX) :])
        method = scope["method"]
        if method != "POST" and (source is None or method not in self._methods[source.name]):
            allow = ", ".join(["POST", *sorted(self._methods[source.name])]) if source is not None else "POST"
            await _respond(send, 405, {"error": "method_not_allowed"}, [*_JSON_HEADERS, (b"allow", allow.encode())])
            return
        source_label = source.name if source is not None else UNKNOWN_SOURCE_LABEL
        provider_label = source.provider if source is not None else UNKNOWN_SOURCE_LABEL
        headers = _JSON_HEADERS
        trace = None
        if self._tracing is not None:
            trace = self._tracing.start(source_label, _traceparent(dict(scope["headers"])))
        hold = self._pending.hold()
        try:
            if source is None:
                raise UnknownSource("no such source")
            handled = await self._handle(source, scope, receive, trace, hold)
        except RequestError as exc:
            outcome, status, body = exc.outcome, exc.status_code, {"error": exc.code}
            if status == 503:
                headers = self._unavailable_headers
            elif isinstance(exc, SignatureError):
                self._metrics.signature_failures.labels(source_label, exc.reason).inc()
            logger.debug("refused %s: %s (%s)", source_label, exc.code, exc)
            error: BaseException | None = exc
        except _Disconnected:
            if trace is not None:
                trace.finish(499, "disconnected")
            return
        except BaseException as exc:
            if trace is not None:
                trace.finish(500, "error", exc)
            raise
        else:
            if isinstance(handled, Handshake):
                # A provider handshake: answered as the provider expects, never published.
                self._metrics.received.labels(source_label, provider_label, "handshake").inc()
                await _send(
                    send, handled.status, handled.body, [(b"content-type", handled.content_type), *handled.headers]
                )
                self._finish(started, source_label, provider_label, "handshake", handled.status)
                if trace is not None:
                    trace.finish(handled.status, "handshake")
                return
            event_id, event_type = handled
            self._accepted[source_label].inc()
            ack = self._acks.get(source_label)
            if ack is None:
                await _respond(send, 202, {"status": "accepted", "id": event_id}, headers)
            else:
                await _send(send, ack.status, ack.body, [(b"content-type", ack.content_type)])
            self._finish(
                started, source_label, provider_label, "accepted", ack.status if ack else 202, event_id, event_type
            )
            if trace is not None:
                trace.finish(ack.status if ack else 202, "accepted")
            return
        finally:
            # Every way out gives the request's share back: refused, disconnected, cancelled (idempotent).
            hold.release()
        self._metrics.received.labels(source_label, provider_label, outcome).inc()
        await _respond(send, status, body, headers)
        self._finish(started, source_label, provider_label, outcome, status)
        if trace is not None:
            trace.finish(status, outcome, error)

    def _finish(
        self,
        started: float,
        source: str,
        provider: str,
        outcome: str,
        status: int,
        event_id: str | None = None,
        event_type: str | None = None,
    ) -> None:
        elapsed_s = time.perf_counter() - started
        self._durations[source].observe(elapsed_s)
        if requests_log.isEnabledFor(logging.INFO):
            # One line per request: what happened to which event, never the body or a header value.
            requests_log.info(
                "webhook %s",
                outcome,
                extra={
                    "source": source,
                    "provider": provider,
                    "outcome": outcome,
                    "status": status,
                    "event_id": event_id,
                    "type": event_type,
                    "duration_ms": round(elapsed_s * 1000, 3),
                },
            )

    async def _handle(
        self, source: Source, scope: Scope, receive: Receive, trace: RequestTrace | None, hold: Hold
    ) -> tuple[str, str] | Handshake:
        raw_headers = scope["headers"]
        if sum(len(name) + len(value) for name, value in raw_headers) > self._max_header_bytes:
            raise HeadersTooLarge(f"headers over {self._max_header_bytes} bytes")
        headers: dict[bytes, bytes] = dict(raw_headers)
        body = await self._read_body(headers, receive, hold)
        if trace is not None:
            trace.step("verify")
        method = scope["method"]
        handshakes = [h for h in source.handshakes if h.method == method]
        inbound = Inbound(method, _query(scope), headers, body) if handshakes else None
        # Unsigned handshakes carry nothing to verify (an echo, a token of their own): asked first.
        for handshake in handshakes:
            if not handshake.signed and inbound is not None:
                answer = handshake.answer(inbound, source.secrets[0], source.verify_token)
                if answer is not None:
                    return answer
        if method != "POST" and not any(handshake.signed for handshake in handshakes):
            raise BadRequest(f"not a {source.provider} handshake")
        if source.fetches_keys:
            await source.load_keys(headers, body)
        matched = source.scheme.verify(headers, body, source.secrets, self._clock())
        # Verified: the body no longer counts against the budget of unverified bytes.
        hold.release()
        self._matches[source.name][matched].inc()
        for handshake in handshakes:
            if handshake.signed and inbound is not None:
                answer = handshake.answer(inbound, source.secrets[matched], source.verify_token)
                if answer is not None:
                    return answer
        if method != "POST":
            raise BadRequest(f"not a {source.provider} handshake")
        coded = source.handshake(headers, body)
        if coded is not None:
            if coded.follow_up is not None:
                await coded.follow_up()
            return coded
        verified = source.scheme.describe(source.name, headers, body)
        if trace is not None:
            trace.step("publish")
        received_at = datetime.now(UTC)
        value = encode_envelope(
            id=verified.id,
            source=source.name,
            provider=source.provider,
            type=verified.type,
            received_at=received_at,
            occurred_at=verified.occurred_at,
            payload_json=verified.payload_json,
            headers=verified.headers,
        )
        event_id, event_type, subject = verified.id, verified.type, verified.subject
        if trace is None:
            traceparent = _traceparent(headers)
        else:
            # The consumers' spans continue from the publish span.
            traceparent = trace.traceparent()
            trace.event(event_id, event_type, source.topic)
        record = source.record_format
        event_time = verified.occurred_at or received_at
        if record.structured:
            value = record.value(
                value, id=event_id, type=event_type, time=event_time, subject=subject, traceparent=traceparent
            )
        record_headers = record.headers(
            id=event_id, type=event_type, time=event_time, subject=subject, traceparent=traceparent
        )
        publishing = self._publisher.publish(source.topic, event_id.encode(), value, record_headers)
        if trace is not None:
            trace.step("ack")
        # Large bodies: the producer keeps its own copy of the envelope, so nothing here holds the request's
        # bytes or the envelope's through the wait for the ack (it lowers the peak RSS).
        del body, verified, value
        publish_started = time.perf_counter()
        try:
            await publishing
        finally:
            self._metrics.publish_duration.observe(time.perf_counter() - publish_started)
        return event_id, event_type

    async def _read_body(self, headers: Mapping[bytes, bytes], receive: Receive, hold: Hold) -> bytes:
        declared = headers.get(b"content-length")
        if declared is not None and declared.isdigit():
            if int(declared) > self._max_body_bytes:
                raise BodyTooLarge(f"declared {int(declared)} bytes, limit {self._max_body_bytes}")
            # The whole declared body up front: a request that can't be held is refused before it is read.
            hold.take(int(declared))
        chunks: list[bytes] = []
        size = 0
        try:
            # One deadline for the whole body, not per chunk: a sender trickling a byte at a time never idles.
            async with asyncio.timeout(self._body_timeout_s):
                while True:
                    message = await receive()
                    if message["type"] == "http.disconnect":
                        raise _Disconnected
                    chunk = message.get("body", b"")
                    size += len(chunk)
                    if size > self._max_body_bytes:
                        raise BodyTooLarge(f"body over {self._max_body_bytes} bytes")
                    if size > hold.size:
                        hold.take(size - hold.size)
                    chunks.append(chunk)
                    if not message.get("more_body", False):
                        return chunks[0] if len(chunks) == 1 else b"".join(chunks)
        except TimeoutError:
            raise BodyTimeout(f"body not read within {self._body_timeout_s} s ({size} bytes so far)") from None


def _query(scope: Scope) -> dict[str, str]:
    """The query string's fields (the first of a repeated one); a malformed one is a `BadRequest`."""
    raw: bytes = scope.get("query_string", b"")
    try:
        pairs = parse_qsl(raw.decode("utf-8"), keep_blank_values=True, max_num_fields=64)
    except (UnicodeDecodeError, ValueError):
        raise BadRequest("malformed query string") from None
    fields: dict[str, str] = {}
    for name, value in pairs:
        fields.setdefault(name, value)
    return fields


def _traceparent(headers: Mapping[bytes, bytes]) -> bytes | None:
    """The sender's `traceparent`, where it is a valid one."""
    value = headers.get(b"traceparent")
    return value if value is not None and _TRACEPARENT.fullmatch(value) else None


class _Disconnected(Exception):
    """The sender went away before its body arrived: nothing to answer."""


async def _respond(send: Send, status: int, body: dict[str, str], headers: list[tuple[bytes, bytes]]) -> None:
    await _send(send, status, orjson.dumps(body), headers)


async def _send(send: Send, status: int, payload: bytes, headers: list[tuple[bytes, bytes]]) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [*headers, (b"content-length", str(len(payload)).encode())],
        }
    )
    await send({"type": "http.response.body", "body": payload})
