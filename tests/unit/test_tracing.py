"""Tracing switched by the OTEL_* variables, and the receiver's spans of refused and accepted requests
(the SDK's in-memory exporter; the trace across both processes is `tests/integration/test_tracing.py`)."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator

import httpx
import pytest
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import StatusCode
from prometheus_client import CollectorRegistry

from consumers import tracing as consumer_tracing
from consumers.errors import ConfigError as ConsumerConfigError
from receiver import tracing as receiver_tracing
from receiver.app import create_app
from receiver.errors import ConfigError
from receiver.settings import ReceiverSettings
from receiver.sources import load_sources
from schemas.tracecontext import tracing_enabled
from tests.fakes import RecordingPublisher
from tests.signing import hmac_headers


@pytest.mark.parametrize(
    ("environ", "enabled"),
    [
        ({}, False),
        ({"OTEL_TRACES_EXPORTER": "none", "OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318"}, False),
        ({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318"}, True),
        ({"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://collector:4318/v1/traces"}, True),
        ({"OTEL_TRACES_EXPORTER": "otlp"}, True),
        ({"OTEL_TRACES_EXPORTER": "OTLP", "OTEL_EXPORTER_OTLP_PROTOCOL": "http/protobuf"}, True),
        ({"OTEL_TRACES_EXPORTER": "otlp", "OTEL_SDK_DISABLED": "true"}, False),
    ],
)
def test_traces_are_off_unless_the_otel_variables_ask(environ: dict[str, str], enabled: bool) -> None:
    assert tracing_enabled(environ) is enabled


@pytest.mark.parametrize(
    "environ",
    [
        {"OTEL_TRACES_EXPORTER": "jaeger"},
        {"OTEL_TRACES_EXPORTER": "otlp", "OTEL_EXPORTER_OTLP_PROTOCOL": "grpc"},
        {"OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4317", "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL": "grpc"},
    ],
)
def test_an_exporter_we_do_not_ship_is_a_configuration_error(environ: dict[str, str]) -> None:
    with pytest.raises(ConfigError, match="only"):
        receiver_tracing.tracing_from_env(environ)
    with pytest.raises(ConsumerConfigError, match="only"):
        consumer_tracing.tracing_from_env(environ)


def test_both_processes_build_an_otlp_exporter_when_asked() -> None:
    environ = {"OTEL_TRACES_EXPORTER": "otlp", "OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:9"}
    assert receiver_tracing.tracing_from_env({}) is None
    assert consumer_tracing.tracing_from_env({}) is None
    for module in (receiver_tracing, consumer_tracing):
        built = module.tracing_from_env(environ)
        assert built is not None
        tracing, stop = built
        assert isinstance(tracing, module.Tracing)
        stop()  # nothing was recorded: nothing is sent


def test_with_tracing_off_the_trace_sdk_is_never_imported() -> None:
    # (redis-py imports the SDK's metrics part by itself when it is installed: not ours to decide.)
    code = (
        "import sys, receiver.__main__, consumers.__main__\n"
        "from receiver.app import create_app\n"
        "from receiver.settings import ReceiverSettings\n"
        "from receiver.sources import load_sources\n"
        "create_app(ReceiverSettings(), sources=load_sources({'WEBHOOK_SECRET_HMAC': 'k'}, sources_file=None,"
        " tolerance_s=300))\n"
        "print(sorted(m for m in sys.modules if m.startswith(('opentelemetry.sdk.trace', 'opentelemetry.exporter'))))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
    assert done.stdout.strip() == "[]"


@pytest.fixture
def spans() -> Iterator[tuple[InMemorySpanExporter, receiver_tracing.Tracing]]:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    yield exporter, receiver_tracing.Tracing(provider.get_tracer("test"))
    provider.shutdown()


async def test_the_receivers_spans_of_an_accepted_and_a_refused_request(
    spans: tuple[InMemorySpanExporter, receiver_tracing.Tracing],
) -> None:
    exporter, tracing = spans
    sources = load_sources({"WEBHOOK_SECRET_HMAC": "k"}, sources_file=None, tolerance_s=300)
    app = create_app(
        ReceiverSettings(),
        sources=sources,
        publisher=RecordingPublisher(),
        registry=CollectorRegistry(),
        tracing=tracing,
    )
    body = b'{"id":"evt-span","type":"order.created"}'
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as http:
        assert (await http.post("/webhooks/hmac", content=body, headers=hmac_headers(body, "k"))).status_code == 202
        accepted = exporter.get_finished_spans()
        exporter.clear()
        assert (await http.post("/webhooks/hmac", content=body, headers=hmac_headers(body, "no"))).status_code == 401
        refused = exporter.get_finished_spans()
        exporter.clear()
        assert (await http.post("/webhooks/nope", content=body)).status_code == 404
        unknown = exporter.get_finished_spans()

    assert [span.name for span in accepted] == ["verify", "publish", "ack", "receive"]
    receive = accepted[-1]
    assert len({span.context.trace_id for span in accepted}) == 1
    assert receive.parent is None  # the sender sent no trace context: a new trace
    assert dict(receive.attributes or {}) == {
        "webhook.source": "hmac",
        "webhook.event_id": "evt-span",
        "webhook.type": "order.created",
        "http.response.status_code": 202,
        "webhook.outcome": "accepted",
    }
    assert (accepted[1].attributes or {})["messaging.destination.name"] == "webhooks.hmac"

    assert [span.name for span in refused] == ["verify", "receive"]
    assert refused[0].status.status_code is StatusCode.ERROR
    assert (refused[0].attributes or {})["error.type"] == "SignatureError"
    assert (refused[1].attributes or {})["http.response.status_code"] == 401
    assert refused[1].status.status_code is StatusCode.UNSET  # a refusal is the sender's problem, not ours

    assert [span.name for span in unknown] == ["receive"]
    assert (unknown[0].attributes or {})["webhook.source"] == "unknown"


@pytest.mark.parametrize("module", ["receiver", "consumers"])
@pytest.mark.parametrize("workers", ["1", "2"])
def test_a_bad_otel_variable_stops_either_process_with_one_line(module: str, workers: str) -> None:
    environ = {
        "PATH": os.environ.get("PATH", ""),
        "OTEL_TRACES_EXPORTER": "jaeger",
        "WEBHOOK_SECRET_HMAC": "k",
        "RECEIVER_WORKERS": workers,
        "CONSUMER_WORKERS": workers,
        "CONSUMER_HANDLERS": "consumers.examples.agent",
    }
    done = subprocess.run(
        [sys.executable, "-m", module], capture_output=True, text=True, timeout=60, check=False, env=environ
    )
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        f"{module}: {'configuration error: ' if module == 'receiver' else ''}"
        "OTEL_TRACES_EXPORTER=jaeger: only otlp (or none) is supported"
    ]
