"""Batched multiprocess values: the files prometheus_client's collector adds up hold exactly what each process
counted once it flushed, and nothing is written before."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, values
from prometheus_client.multiprocess import MultiProcessCollector

from telemetry.multiprocess import BatchedValues

BUCKETS = (0.01, 0.1, 1.0)


@pytest.fixture(autouse=True)
def metrics_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(tmp_path))
    monkeypatch.setattr(values, "ValueClass", values.ValueClass)  # put back after the test, whatever installs
    return tmp_path


def scraped(directory: Path) -> CollectorRegistry:
    registry = CollectorRegistry()
    MultiProcessCollector(registry, path=str(directory))  # type: ignore[no-untyped-call]
    return registry


class Process:
    """One process's metrics, created with its own batched values (its files named by `pid`)."""

    def __init__(self, pid: int) -> None:
        self.values = BatchedValues(process=lambda: pid)
        values.ValueClass = self.values.value_class
        registry = CollectorRegistry()
        self.received = Counter("received_total", "Received.", ["outcome"], registry=registry)
        self.duration = Histogram("duration_seconds", "Duration.", buckets=BUCKETS, registry=registry)
        self.pending = Gauge("pending_bytes", "Pending.", multiprocess_mode="livesum", registry=registry)
        self.registry = registry


def test_nothing_reaches_the_files_before_a_flush_and_everything_after(metrics_dir: Path) -> None:
    process = Process(101)
    process.received.labels("accepted").inc()
    process.received.labels("accepted").inc(2)
    process.duration.observe(0.05)
    process.pending.inc(4096)

    # The process itself reads its values at once; the shared files don't have them yet.
    assert process.registry.get_sample_value("received_total", {"outcome": "accepted"}) == 3
    assert scraped(metrics_dir).get_sample_value("received_total", {"outcome": "accepted"}) in (None, 0.0)

    process.values.flush()
    shared = scraped(metrics_dir)
    assert shared.get_sample_value("received_total", {"outcome": "accepted"}) == 3
    assert shared.get_sample_value("duration_seconds_bucket", {"le": "0.1"}) == 1
    assert shared.get_sample_value("duration_seconds_bucket", {"le": "0.01"}) == 0
    assert shared.get_sample_value("duration_seconds_sum", {}) == 0.05
    assert shared.get_sample_value("pending_bytes", {}) == 4096

    # Changed again: the next flush writes the new values, not increments on top of what was written.
    process.received.labels("accepted").inc()
    process.pending.dec(4096)
    process.values.flush()
    process.values.flush()
    shared = scraped(metrics_dir)
    assert shared.get_sample_value("received_total", {"outcome": "accepted"}) == 4
    assert shared.get_sample_value("pending_bytes", {}) == 0


def test_the_collector_adds_up_every_process_exactly(metrics_dir: Path) -> None:
    # One after the other: a labelled child takes the value class current when it is first used.
    first = Process(201)
    for _ in range(300):
        first.received.labels("accepted").inc()
        first.duration.observe(0.005)
    first.values.flush()
    second = Process(202)
    for _ in range(200):
        second.received.labels("accepted").inc()
        second.duration.observe(0.5)
    second.received.labels("invalid_signature").inc()
    second.values.flush()

    shared = scraped(metrics_dir)
    assert shared.get_sample_value("received_total", {"outcome": "accepted"}) == 500
    assert shared.get_sample_value("received_total", {"outcome": "invalid_signature"}) == 1
    assert shared.get_sample_value("duration_seconds_count", {}) == 500
    assert shared.get_sample_value("duration_seconds_bucket", {"le": "0.01"}) == 300
    assert shared.get_sample_value("duration_seconds_bucket", {"le": "1.0"}) == 500


async def test_every_flushes_while_it_runs(metrics_dir: Path) -> None:
    process = Process(301)
    flushing = asyncio.create_task(process.values.every(0.01))
    try:
        for count in (1, 2):
            process.received.labels("accepted").inc()
            await asyncio.sleep(0.1)
            assert scraped(metrics_dir).get_sample_value("received_total", {"outcome": "accepted"}) == count
    finally:
        flushing.cancel()


def test_install_makes_the_next_metrics_batched(metrics_dir: Path) -> None:
    installed = BatchedValues.install()
    counter = Counter("installed_total", "Installed.", registry=CollectorRegistry())
    counter.inc()
    assert scraped(metrics_dir).get_sample_value("installed_total", {}) in (None, 0.0)
    installed.flush()
    assert scraped(metrics_dir).get_sample_value("installed_total", {}) == 1
