"""Trace context shared by both processes: when the OTEL_* variables ask for traces, and `traceparent` text.

Pure: the OpenTelemetry SDK itself is imported only by `telemetry` and the two processes' `tracing` modules, and
only when traces are on (it is the optional extra `webhook-ingest[otel]`).
"""

from __future__ import annotations

from collections.abc import Mapping

_SUPPORTED_PROTOCOLS = ("", "http/protobuf")


def tracing_enabled(environ: Mapping[str, str]) -> bool:
    """Whether the OTEL_* variables ask for traces: `OTEL_TRACES_EXPORTER=otlp`, or an OTLP endpoint set
    (`OTEL_EXPORTER_OTLP_ENDPOINT` or `..._TRACES_ENDPOINT`) with no exporter named; never with
    `OTEL_SDK_DISABLED=true` or `OTEL_TRACES_EXPORTER=none`. Raises `ValueError` for an exporter or an OTLP
    protocol we don't ship (only OTLP over HTTP/protobuf).

    Unlike the SDK's own default (`otlp`), nothing is exported unless asked: a process sending spans to a
    collector that isn't there would log an export error every few seconds.
    """
    if environ.get("OTEL_SDK_DISABLED", "").strip().lower() == "true":
        return False
    exporter = environ.get("OTEL_TRACES_EXPORTER", "").strip().lower()
    endpoint = environ.get("OTEL_EXPORTER_OTLP_ENDPOINT") or environ.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
    if exporter == "none" or (exporter == "" and not endpoint):
        return False
    if exporter not in ("", "otlp"):
        raise ValueError(f"OTEL_TRACES_EXPORTER={exporter}: only otlp (or none) is supported")
    protocol = environ.get("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL") or environ.get("OTEL_EXPORTER_OTLP_PROTOCOL", "")
    if protocol.strip().lower() not in _SUPPORTED_PROTOCOLS:
        raise ValueError(f"OTLP protocol {protocol}: only http/protobuf is supported")
    return True


def format_traceparent(trace_id: int, span_id: int, trace_flags: int) -> str:
    """A W3C `traceparent` (version 00) naming a span."""
    return f"00-{trace_id:032x}-{span_id:016x}-{trace_flags:02x}"
