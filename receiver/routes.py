"""`POST /webhooks/{source}`: the hot path, as a bare ASGI app.

It sits in front of FastAPI (see `app.py`) rather than inside it: FastAPI's per-route machinery costs
more than the verification itself (docs/performance.md, "Why the code is shaped this way"). Everything
else — health, metrics, docs — stays in FastAPI.

Order of checks, each cheaper than the next and none trusting what came before it:
source exists -> header size -> declared body size -> body read within the limit, the deadline and the
budget of unverified bytes (pending.py: a 503 over it) -> signature (and timestamp; keys a provider
publishes are fetched first, a failed fetch is a 503) -> the source's rate (a token bucket: a 429 over it) ->
parse -> publish. Sources come and go at run time (`put`, `remove`: the registry, receiver/registry/); a
lookup is one dict access however many there are.
Handshakes (`Source.handshakes`, receiver/verify/handshakes.py): a method other than POST is answered only
where one of the source's handshakes comes with it, else 405. Unsigned handshakes (an echo) are answered
before the signature is checked, signed ones (Zoom, Okta, Xero, and the code schemes' Slack, Discord,
Twitch) only after it verified; either way instead of parsing and publishing. A source with its own
acknowledgement (Adyen's `[accepted]`) answers an accepted event with it instead of the 202.
A `RequestError` becomes its response here, and only here.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import math
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING
from urllib.parse import parse_qsl

import orjson
from prometheus_client import Counter, Histogram
from starlette.types import Receive, Scope, Send

from primitives.tokenbucket import TokenBucket
from receiver.deadlines import Deadlines
from receiver.errors import (
    BadRequest,
    BodyTimeout,
    BodyTooLarge,
    HeadersTooLarge,
    MethodNotAllowed,
    RateLimited,
    RequestError,
    SignatureError,
    Unavailable,
    UnknownSource,
)
from receiver.metrics import UNKNOWN_SOURCE_LABEL, ReceiverMetrics
from receiver.pending import Hold, PendingBytes
from receiver.publish import Publisher
from receiver.sources import Source
from receiver.verify import Handshake, Inbound
from receiver.verify.base import HandshakeRule
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


@dataclass(frozen=True, slots=True)
class _Endpoint:
    """A source and what the hot path needs of it, computed once when it is put in place."""

    source: Source
    accepted: Counter
    duration: Histogram
    matches: tuple[Counter, ...]
    methods: frozenset[str]
    # The source's handshakes (of any method), so the hot path doesn't ask the scheme for them.
    handshakes: tuple[HandshakeRule, ...]
    limiter: TokenBucket | None


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
        processes: the receiver processes serving the port (`RECEIVER_WORKERS`), which share each rate.
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
        processes: int = 1,
    ) -> None:
        self._publisher = publisher
        self._metrics = metrics
        self._max_body_bytes = max_body_bytes
        self._body_deadlines = Deadlines(body_timeout_s)
        self._max_header_bytes = max_header_bytes
        self._pending = PendingBytes(max_pending_bytes, metrics.pending_bytes)
        self._unavailable_headers = [*_JSON_HEADERS, (b"retry-after", str(retry_after_s).encode())]
        self._clock = clock
        self._tracing = tracing
        self._processes = processes
        self._unknown_duration = metrics.request_duration.labels(UNKNOWN_SOURCE_LABEL)
        self._endpoints: dict[str, _Endpoint] = {}
        for source in sources.values():
            self.put(source)
        # False while the run-time registry is being read at start-up: a source not found yet may be one of
        # it, so the sender gets a 503 and retries rather than a 404.
        self.complete = True

    @property
    def source_names(self) -> list[str]:
        return list(self._endpoints)

    def put(self, source: Source) -> None:
        """Serve `source` from now on, in place of the source of its name if there is one."""
        previous = self._endpoints.get(source.name)
        limiter = None
        if source.rate_per_s is not None:
            # Each of the RECEIVER_WORKERS processes takes rate / N, so their sum never goes over the rate, whichever
            # process the kernel hands a connection to; with connections spread unevenly, a source may be refused
            # a little below its rate.
            share = source.rate_per_s / self._processes
            kept = previous.limiter if previous is not None else None
            # An unchanged rate keeps its bucket: a rotation must not hand out a second burst.
            limiter = kept if kept is not None and kept.per_s == share else TokenBucket(share)
        label, metrics = source.metrics_label, self._metrics
        self._endpoints[source.name] = _Endpoint(
            source=source,
            # The hot path's metric children, looked up once rather than by labels on every request.
            accepted=metrics.received.labels(label, source.provider, "accepted"),
            duration=metrics.request_duration.labels(label),
            matches=tuple(metrics.secret_matches.labels(label, str(index)) for index in range(len(source.secrets))),
            # The methods besides POST the source answers (its handshakes').
            methods=handshake_methods(source.handshakes),
            handshakes=source.handshakes,
            limiter=limiter,
        )

    def remove(self, name: str) -> None:
        """Stop serving the source of this name (a 404 from now on)."""
        self._endpoints.pop(name, None)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        started = time.perf_counter()
        endpoint = self._endpoints.get(scope["path"][len(PATH_PREFIX) :])
        source = endpoint.source if endpoint is not None else None
        method = scope["method"]
        if method != "POST" and (endpoint is None or method not in endpoint.methods):
            allow = ", ".join(["POST", *sorted(endpoint.methods)]) if endpoint is not None else "POST"
            await _respond(
                send,
                MethodNotAllowed.status_code,
                {"error": MethodNotAllowed.code},
                [*_JSON_HEADERS, (b"allow", allow.encode())],
            )
            return
        source_label = source.metrics_label if source is not None else UNKNOWN_SOURCE_LABEL
        provider_label = source.provider if source is not None else UNKNOWN_SOURCE_LABEL
        headers = _JSON_HEADERS
        trace = None
        if self._tracing is not None:
            trace = self._tracing.start(source_label, _traceparent(dict(scope["headers"])))
        hold = self._pending.hold()
        try:
            if endpoint is None:
                if not self.complete:
                    raise Unavailable("the source registry is still being read")
                raise UnknownSource("no such source")
            handled = await self._handle(endpoint, scope, receive, trace, hold)
        except RequestError as exc:
            outcome, status, body = exc.outcome, exc.status_code, {"error": exc.code}
            if status == 503:
                headers = self._unavailable_headers
            elif isinstance(exc, RateLimited):
                headers = [*_JSON_HEADERS, (b"retry-after", str(exc.retry_after_s).encode())]
            elif isinstance(exc, SignatureError):
                self._metrics.signature_failures.labels(source_label, exc.reason).inc()
            logger.debug("refused %s: %s (%s)", source.name if source is not None else "-", exc.code, exc)
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
                self._finish(started, endpoint, "handshake", handled.status)
                if trace is not None:
                    trace.finish(handled.status, "handshake")
                return
            event_id, event_type = handled
            assert endpoint is not None
            endpoint.accepted.inc()
            ack = endpoint.source.ack
            if ack is None:
                await _respond(send, 202, {"status": "accepted", "id": event_id}, headers)
            else:
                await _send(send, ack.status, ack.body, [(b"content-type", ack.content_type)])
            self._finish(started, endpoint, "accepted", ack.status if ack else 202, event_id, event_type)
            if trace is not None:
                trace.finish(ack.status if ack else 202, "accepted")
            return
        finally:
            # Every way out gives the request's share back: refused, disconnected, cancelled (idempotent).
            hold.release()
        self._metrics.received.labels(source_label, provider_label, outcome).inc()
        await _respond(send, status, body, headers)
        self._finish(started, endpoint, outcome, status)
        if trace is not None:
            trace.finish(status, outcome, error)

    def _finish(
        self,
        started: float,
        endpoint: _Endpoint | None,
        outcome: str,
        status: int,
        event_id: str | None = None,
        event_type: str | None = None,
    ) -> None:
        elapsed_s = time.perf_counter() - started
        (endpoint.duration if endpoint is not None else self._unknown_duration).observe(elapsed_s)
        if requests_log.isEnabledFor(logging.INFO):
            source = endpoint.source if endpoint is not None else None
            # One line per request: what happened to which event, never the body or a header value. The
            # source's own name (a registry source's id), unlike the metrics' bounded label.
            requests_log.info(
                "webhook %s",
                outcome,
                extra={
                    "source": source.name if source is not None else UNKNOWN_SOURCE_LABEL,
                    "tenant": source.tenant if source is not None else None,
                    "provider": source.provider if source is not None else UNKNOWN_SOURCE_LABEL,
                    "outcome": outcome,
                    "status": status,
                    "event_id": event_id,
                    "type": event_type,
                    "duration_ms": round(elapsed_s * 1000, 3),
                },
            )

    async def _handle(
        self, endpoint: _Endpoint, scope: Scope, receive: Receive, trace: RequestTrace | None, hold: Hold
    ) -> tuple[str, str] | Handshake:
        source = endpoint.source
        raw_headers = scope["headers"]
        if sum(map(len, itertools.chain.from_iterable(raw_headers))) > self._max_header_bytes:
            raise HeadersTooLarge(f"headers over {self._max_header_bytes} bytes")
        headers: dict[bytes, bytes] = dict(raw_headers)
        body = await self._read_body(headers, receive, hold)
        if trace is not None:
            trace.step("verify")
        method = scope["method"]
        handshakes = [h for h in endpoint.handshakes if h.method == method] if endpoint.handshakes else []
        inbound = Inbound(method, _query(scope), headers, body) if handshakes else None
        # Unsigned handshakes carry nothing to verify (an echo, a token of their own): asked first.
        for handshake in handshakes:
            if not handshake.signed and inbound is not None:
                answer = handshake.answer(inbound, source.secrets[0], source.verify_token)
                if answer is not None:
                    if answer.captured is not None:
                        # The secret the provider chose (Asana, Notion): kept, or refused, before the answer.
                        await source.capture(answer.captured)
                    return answer
        if method != "POST" and not any(handshake.signed for handshake in handshakes):
            raise BadRequest(f"not a {source.provider} handshake")
        if source.fetches_keys:
            await source.load_keys(headers, body)
        matched = source.scheme.verify(headers, body, source.secrets, self._clock())
        # Verified: the body no longer counts against the budget of unverified bytes.
        hold.release()
        endpoint.matches[matched].inc()
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
        if endpoint.limiter is not None:
            # Verified events only: forgeries don't use up a source's rate, and nothing over it is published.
            wait_s = endpoint.limiter.try_take()
            if wait_s:
                raise RateLimited(f"over {source.rate_per_s}/s", retry_after_s=max(1, math.ceil(wait_s)))
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
            tenant=source.tenant,
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
        # One deadline for the whole body, not per chunk: a sender trickling a byte at a time never idles.
        task = asyncio.current_task()
        assert task is not None
        self._body_deadlines.start(task)
        try:
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
        except asyncio.CancelledError:
            if self._body_deadlines.overdue(task):
                timeout_s = self._body_deadlines.timeout_s
                raise BodyTimeout(f"body not read within {timeout_s} s ({size} bytes so far)") from None
            raise
        finally:
            self._body_deadlines.finish(task)


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
