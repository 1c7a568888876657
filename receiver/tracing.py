"""OpenTelemetry traces of the receiver: one `receive` span per webhook, its steps `verify`, `publish`, `ack`.

Off unless the standard variables turn it on (`schemas.tracecontext.tracing_enabled`): then the route
gets a `Tracing` and the spans go out by OTLP over HTTP (`OTEL_EXPORTER_OTLP_ENDPOINT`, `OTEL_SERVICE_NAME`,
... as the SDK reads them). Off, the route holds None and pays one attribute check per request, and
`opentelemetry` (the optional extra `webhook-ingest[otel]`) is not even imported.

`receive` continues the sender's trace where it sent a valid `traceparent`; the record's `traceparent`
(and `ce_traceparent`) is then the `publish` span's, so the consumers' spans join the same trace.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING

from receiver.errors import ConfigError
from schemas.tracecontext import format_traceparent
from telemetry import otlp_tracer_provider

if TYPE_CHECKING:
    from opentelemetry.trace import Span, Tracer

# The service name when OTEL_SERVICE_NAME gives none.
SERVICE_NAME = "webhooks-receiver"


def tracing_from_env(environ: Mapping[str, str]) -> tuple[Tracing, Callable[[], None]] | None:
    """The route's `Tracing` and the call that flushes and stops the exporter, or None when tracing is off."""
    try:
        provider = otlp_tracer_provider(environ, SERVICE_NAME)
    except ValueError as exc:
        raise ConfigError(str(exc)) from None
    return None if provider is None else (Tracing(provider.get_tracer("receiver")), provider.shutdown)


class Tracing:
    """Starts the trace of each webhook request (the route holds one when tracing is on, else None)."""

    def __init__(self, tracer: Tracer) -> None:
        # Imported here, once: this module is imported whether tracing is on or not.
        from opentelemetry import trace
        from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

        self.tracer = tracer
        self.in_context = trace.set_span_in_context
        self.error = trace.Status(trace.StatusCode.ERROR)
        self._server = trace.SpanKind.SERVER
        self._propagator = TraceContextTextMapPropagator()

    def start(self, source: str, traceparent: bytes | None) -> RequestTrace:
        """The trace of one request on `source`, continuing the sender's `traceparent` (already checked)."""
        parent = None
        if traceparent is not None:
            parent = self._propagator.extract({"traceparent": traceparent.decode()})
        root = self.tracer.start_span(
            "receive", context=parent, kind=self._server, attributes={"webhook.source": source}
        )
        return RequestTrace(self, root)


class RequestTrace:
    """One request's spans: `receive`, and one step at a time under it (`verify`, `publish`, `ack`)."""

    __slots__ = ("_parent", "_root", "_step", "_tracing")

    def __init__(self, tracing: Tracing, root: Span) -> None:
        self._tracing = tracing
        self._root = root
        self._parent = tracing.in_context(root)  # every step's
        self._step: Span | None = None

    def step(self, name: str) -> None:
        """End the running step and start the next one."""
        if self._step is not None:
            self._step.end()
        self._step = self._tracing.tracer.start_span(name, context=self._parent)

    def traceparent(self) -> bytes:
        """The running step's W3C `traceparent`: what the record carries to the consumers."""
        span = self._step if self._step is not None else self._root
        context = span.get_span_context()
        return format_traceparent(context.trace_id, context.span_id, context.trace_flags).encode()

    def event(self, event_id: str, event_type: str, topic: str) -> None:
        """Name the event on the request's span, and the topic on the running step (`publish`)."""
        self._root.set_attributes({"webhook.event_id": event_id, "webhook.type": event_type})
        if self._step is not None:
            self._step.set_attributes({"messaging.system": "kafka", "messaging.destination.name": topic})

    def finish(self, status: int, outcome: str, error: BaseException | None = None) -> None:
        """End the running step and the request's span; a refusal or a failure marks the step that raised."""
        if self._step is not None:
            if error is not None:
                self._step.set_status(self._tracing.error)
                self._step.set_attribute("error.type", type(error).__name__)
            self._step.end()
        self._root.set_attributes({"http.response.status_code": status, "webhook.outcome": outcome})
        if status >= 500:
            self._root.set_status(self._tracing.error)
        self._root.end()
