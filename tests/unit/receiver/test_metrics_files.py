"""A worker of a multi-process receiver (RECEIVER_WORKERS) counts in memory and writes its metrics' files in
batches (telemetry/multiprocess.py): its `/metrics` writes its own counts before reading everyone's, and the
end of its lifespan writes what the last requests counted."""

from __future__ import annotations

from pathlib import Path

import httpx
import orjson
import pytest
from prometheus_client import CollectorRegistry, values
from prometheus_client.multiprocess import MultiProcessCollector

from receiver.app import create_app
from receiver.settings import ReceiverSettings
from receiver.sources import load_sources
from telemetry.multiprocess import BatchedValues
from tests.fakes import RecordingPublisher
from tests.signing import hmac_headers

SECRET = "dev-secret"
ACCEPTED = {"source": "hmac", "provider": "hmac", "outcome": "accepted"}


@pytest.fixture
def batched(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> BatchedValues:
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(tmp_path))
    monkeypatch.setattr(values, "ValueClass", values.ValueClass)  # put back after the test
    return BatchedValues.install()


def in_files(directory: Path) -> float:
    registry = CollectorRegistry()
    MultiProcessCollector(registry, path=str(directory))  # type: ignore[no-untyped-call]
    return registry.get_sample_value("webhooks_received_total", ACCEPTED) or 0.0


async def post(http: httpx.AsyncClient, event_id: str) -> None:
    body = orjson.dumps({"id": event_id, "type": "order.created"})
    response = await http.post("/webhooks/hmac", content=body, headers=hmac_headers(body, SECRET))
    assert response.status_code == 202


async def test_metrics_write_this_workers_counts_first_and_the_lifespan_writes_the_last(
    batched: BatchedValues, tmp_path: Path
) -> None:
    sources = load_sources({"WEBHOOK_SECRET_HMAC": SECRET}, sources_file=None, tolerance_s=300)
    publisher = RecordingPublisher()
    app = create_app(ReceiverSettings(), sources=sources, publisher=publisher, metrics_dir=tmp_path, batched=batched)
    async with (
        app.api.router.lifespan_context(app.api),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as http,
    ):
        for n in range(3):
            await post(http, f"evt_{n}")
        assert (
            'webhooks_received_total{outcome="accepted",provider="hmac",source="hmac"} 3.0'
            in (await http.get("/metrics")).text
        )
        await post(http, "evt_last")
    assert in_files(tmp_path) == 4
