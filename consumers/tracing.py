"""OpenTelemetry traces of a consumer group: one `consume` span per record, `claim`, `handler <name>` and
`complete` under it, and a `commit` span per offset commit linked to the records it covers.

Off unless the OTEL_* variables turn it on (`schemas.tracecontext.tracing_enabled`); then the worker gets a
`Tracing` and the spans go out by OTLP over HTTP. `consume` continues the trace of the record's
`traceparent` header (the receiver's `publish` span, or the sender's context), so one webhook is one trace
across both processes; a retry record carries the same header, so its attempts join that trace too. The
span is the current one while the record is processed: a handler's own instrumented calls nest under its
`handler <registered name>` span.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import TYPE_CHECKING

from consumers.claims import ClaimBatcher
from consumers.decoding import Decoded, Invalid
from consumers.errors import ConfigError
from consumers.idempotency import Claim, ClaimStore
from consumers.kafka import header
from schemas.topics import HEADER_TRACEPARENT
from schemas.tracecontext import format_traceparent
from telemetry import otlp_tracer_provider

if TYPE_CHECKING:
    from opentelemetry.trace import Link, Span, Tracer

    from consumers.metrics import Outcome

# The service name when OTEL_SERVICE_NAME gives none.
SERVICE_NAME = "webhooks-consumer"
# A commit links at most this many records (the SDK's default limit of links per span).
MAX_LINKS = 128


def tracing_from_env(environ: Mapping[str, str]) -> tuple[Tracing, Callable[[], None]] | None:
    """The worker's `Tracing` and the call that flushes and stops the exporter, or None when tracing is off."""
    try:
        provider = otlp_tracer_provider(environ, SERVICE_NAME)
    except ValueError as exc:
        raise ConfigError(str(exc)) from None
    return None if provider is None else (Tracing(provider.get_tracer("consumers")), provider.shutdown)


class Tracing:
    """The spans of one worker (it holds one when tracing is on, else None)."""

    def __init__(self, tracer: Tracer) -> None:
        # Imported here, once: this module is imported whether tracing is on or not.
        from opentelemetry import context, trace
        from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

        self._tracer = tracer
        self._trace = trace
        self._context = context
        self._propagator = TraceContextTextMapPropagator()
        self._done: list[Link] = []

    @contextmanager
    def consume(self, item: Decoded | Invalid) -> Iterator[Callable[[Outcome | None], None]]:
        """The current `consume` span of a record while it is processed; yields the call that names its outcome."""
        record = item.record
        sent = header(record, HEADER_TRACEPARENT)
        parent = self._propagator.extract({"traceparent": sent}) if sent is not None else None
        attributes: dict[str, str | int] = {
            "messaging.system": "kafka",
            "messaging.destination.name": record.topic,
            "messaging.destination.partition.id": str(record.partition),
            "messaging.kafka.offset": record.offset,
            "webhook.attempt": item.attempt,
        }
        if isinstance(item, Decoded):
            attributes |= {"webhook.event_id": item.event.id, "webhook.type": item.event.type}
        span = self._tracer.start_span(
            "consume", context=parent, kind=self._trace.SpanKind.CONSUMER, attributes=attributes
        )
        token = self._context.attach(self._trace.set_span_in_context(span))

        def outcome(value: Outcome | None) -> None:
            span.set_attribute("webhook.outcome", value.value if value is not None else "dropped")

        try:
            yield outcome
        except BaseException as exc:
            self._failed(span, exc)
            raise
        finally:
            self._context.detach(token)
            span.end()
            if len(self._done) < MAX_LINKS:
                self._done.append(self._trace.Link(span.get_span_context()))

    @contextmanager
    def step(self, name: str) -> Iterator[Span]:
        """A span under the current one (the record's `consume`), current itself while it runs."""
        with self._tracer.start_as_current_span(name, record_exception=False, set_status_on_exception=False) as span:
            try:
                yield span
            except BaseException as exc:
                self._failed(span, exc)
                raise

    def failed(self, span: Span, error: BaseException) -> None:
        """Mark a span failed with an error that was returned rather than raised (a handler's)."""
        self._failed(span, error)

    @contextmanager
    def commit(self) -> Iterator[None]:
        """A `commit` span linked to the `consume` spans of the records finished since the last commit (an
        offset commit covers many records, of many traces: it is a trace of its own)."""
        links, self._done = self._done, []
        with self._tracer.start_as_current_span(
            "commit", links=links, record_exception=False, set_status_on_exception=False
        ) as span:
            try:
                yield
            except BaseException as exc:
                self._failed(span, exc)
                raise

    @staticmethod
    def traceparent(span: Span) -> str:
        context = span.get_span_context()
        return format_traceparent(context.trace_id, context.span_id, context.trace_flags)

    def _failed(self, span: Span, error: BaseException) -> None:
        span.set_status(self._trace.Status(self._trace.StatusCode.ERROR, type(error).__name__))
        span.set_attribute("error.type", type(error).__name__)


class TracedClaimBatcher(ClaimBatcher):
    """A `ClaimBatcher` whose `claim` and `complete` are spans under the record's `consume` span."""

    def __init__(self, store: ClaimStore, *, lease_ms: int, tracing: Tracing) -> None:
        super().__init__(store, lease_ms=lease_ms)
        self._tracing = tracing

    async def claim(self, key: str) -> Claim:
        with self._tracing.step("claim") as span:
            claim = await super().claim(key)
            span.set_attribute("webhook.claim", claim.name.lower())
            return claim

    async def complete(self, key: str) -> bool:
        with self._tracing.step("complete"):
            return await super().complete(key)
