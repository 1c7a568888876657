"""A real Prometheus scrapes a running receiver and worker: the counts it sees are the counts sent.

Debian's `prometheus` binary (`.ci/run` installs the package) runs from the test on a free loopback port,
with a temporary config (1 s scrapes of both /metrics) and a temporary storage directory. Where the binary
is missing the test fails and says so; it never skips.
"""

from __future__ import annotations

import asyncio
import shutil
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest
import redis.asyncio
import yaml

from tests.integration.live_stack import live_stack
from tests.integration.ports import free_port

EVENTS = 12
WAIT_S = 60.0


@contextmanager
def prometheus(tmp_path: Path, targets: dict[str, str]) -> Iterator[str]:
    """Run Prometheus scraping `targets` (job name -> base URL) every second; yields its base URL."""
    binary = shutil.which("prometheus")
    if binary is None:
        pytest.fail(
            "the prometheus binary is missing: install Debian's prometheus package (apt-get install -y prometheus)"
        )
    config = {
        "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
        "scrape_configs": [
            {"job_name": job, "metrics_path": "/metrics", "static_configs": [{"targets": [urlsplit(url).netloc]}]}
            for job, url in targets.items()
        ],
    }
    (tmp_path / "prometheus.yml").write_text(yaml.safe_dump(config))
    port = free_port()
    log = (tmp_path / "prometheus.log").open("w")
    process = subprocess.Popen(
        [
            binary,
            f"--config.file={tmp_path / 'prometheus.yml'}",
            f"--storage.tsdb.path={tmp_path / 'data'}",
            f"--web.listen-address=127.0.0.1:{port}",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)
        log.close()


async def query(http: httpx.AsyncClient, base: str, promql: str) -> float | None:
    """The value of a one-series instant query, or None while Prometheus has no answer yet."""
    try:
        response = await http.get(f"{base}/api/v1/query", params={"query": promql})
    except httpx.TransportError:
        return None  # still starting
    if response.status_code != 200:
        return None
    result = response.json()["data"]["result"]
    return float(result[0]["value"][1]) if result else None


async def test_prometheus_scrapes_the_accepted_and_processed_counts(
    kafka_bootstrap: str, redis_url: str, redis_client: redis.asyncio.Redis, unique: str, tmp_path: Path
) -> None:
    async with live_stack(kafka_bootstrap, redis_url, unique) as stack:
        targets = {"webhooks-receiver": stack.receiver_url, "webhooks-consumers": stack.consumer_metrics_url}
        with prometheus(tmp_path, targets) as base:
            for n in range(EVENTS):
                assert (await stack.send(f"evt_{unique}_{n}")).status_code == 202

            accepted_q = 'sum(webhooks_received_total{outcome="accepted"})'
            processed_q = f'sum(webhooks_processed_total{{outcome="ok", group="{stack.group}"}})'
            accepted = processed = None
            deadline = time.monotonic() + WAIT_S
            while (accepted, processed) != (EVENTS, EVENTS):
                if time.monotonic() > deadline:
                    log = (tmp_path / "prometheus.log").read_text()[-2000:]
                    pytest.fail(
                        f"Prometheus saw accepted={accepted}, processed={processed} after {WAIT_S}s, "
                        f"not {EVENTS} each; its log ends:\n{log}"
                    )
                await asyncio.sleep(0.5)
                accepted = await query(stack.http, base, accepted_q)
                processed = await query(stack.http, base, processed_q)

            # Both targets are up as Prometheus sees them, and the events were each handled once.
            up = await query(stack.http, base, 'sum(up{job=~"webhooks-.*"})')
            assert up == 2
            assert sorted(stack.handled) == sorted(f"evt_{unique}_{n}" for n in range(EVENTS))
