"""OpenTelemetry's exporter, set up the same way by both processes; each keeps its own spans
(`receiver.tracing`, `consumers.tracing`). Prometheus's multiprocess values written in batches: `multiprocess.py`.

Its own package because both processes need it and neither may import the other, while `schemas` stays free
of I/O clients (the exporter sends spans over HTTP). The SDK, an optional extra (`webhook-ingest[otel]`), is
imported only when the OTEL_* variables ask for traces.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

from schemas.tracecontext import tracing_enabled

if TYPE_CHECKING:
    from opentelemetry.sdk.trace import TracerProvider


def otlp_tracer_provider(environ: Mapping[str, str], service_name: str) -> TracerProvider | None:
    """A tracer provider whose spans go out by OTLP over HTTP (`OTEL_EXPORTER_OTLP_*`, as the SDK reads them),
    named by OTEL_SERVICE_NAME, else `service_name`; None when the variables ask for no traces.

    Raises:
        ValueError: a variable asks for an exporter or protocol we don't ship, or the SDK is not installed.
    """
    if not tracing_enabled(environ):
        return None
    try:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
        from opentelemetry.sdk.resources import Resource
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import BatchSpanProcessor
    except ImportError:
        raise ValueError("traces are asked for, but opentelemetry is not installed: webhook-ingest[otel]") from None
    resource = Resource.create({} if environ.get("OTEL_SERVICE_NAME") else {"service.name": service_name})
    provider = TracerProvider(resource=resource)
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    return provider
