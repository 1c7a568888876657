"""Test-side control of `python -m receiver` subprocesses: a source of its own, a free port, its output in a file."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path

import httpx
from prometheus_client.parser import text_string_to_metric_families

from telemetry.multiprocess import FLUSH_S
from tests.integration.ports import free_port
from tests.integration.processes import clean_environ, started


@dataclass(frozen=True)
class ReceiverSource:
    """A generic HMAC source of its own (`WEBHOOK_SOURCES_FILE`), so each test writes to a topic of its own."""

    unique: str
    secret: str

    @property
    def name(self) -> str:
        return f"s{self.unique}"

    @property
    def topic(self) -> str:
        return f"it.{self.unique}.{self.name}"

    def write(self, directory: Path) -> Path:
        path = directory / f"sources-{self.unique}.toml"
        path.write_text(f'[sources.{self.name}]\nprovider = "hmac"\ntopic = "{self.topic}"\n')
        return path

    def env(self, bootstrap: str, directory: Path, **extra: str) -> dict[str, str]:
        clean = clean_environ()
        return {
            **clean,
            "KAFKA_BOOTSTRAP_SERVERS": bootstrap,
            "KAFKA_TOPIC_PARTITIONS": "3",
            "WEBHOOK_SOURCES_FILE": str(self.write(directory)),
            f"WEBHOOK_SECRET_{self.name.upper()}": self.secret,
            "RECEIVER_PORT": str(free_port()),
            **extra,
        }


def receiver_process(env: dict[str, str], log: Path) -> AbstractContextManager[subprocess.Popen[bytes]]:
    """`python -m receiver` in the background, stdout and stderr in `log`; killed on the way out if running."""
    return started([sys.executable, "-m", "receiver"], env, log)


async def wait_ready(process: subprocess.Popen[bytes], url: str, log: Path, timeout_s: float = 30.0) -> None:
    """Until `/readyz` answers 200 (connected to Kafka); fails with the process's output otherwise."""
    deadline = time.monotonic() + timeout_s
    async with httpx.AsyncClient(base_url=url, timeout=2) as http:
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise AssertionError(f"the receiver exited ({process.returncode}): {_tail(log)}")
            try:
                if (await http.get("/readyz")).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            await asyncio.sleep(0.1)
    raise AssertionError(f"the receiver was not ready within {timeout_s}s: {_tail(log)}")


def received(metrics: str, outcome: str, source: str | None = None) -> float:
    """`webhooks_received_total` of `outcome` (and of `source`, if given) in a scrape, added up over the rest."""
    return sum(
        sample.value
        for family in text_string_to_metric_families(metrics)
        for sample in family.samples
        if sample.name == "webhooks_received_total"
        and sample.labels.get("outcome") == outcome
        and source in (None, sample.labels.get("source"))
    )


async def scraped(url: str, expected: float, outcome: str, source: str | None = None, within_s: float = 2.0) -> float:
    """`received` in `/metrics`, scraped until it is `expected` or `within_s` passed.

    Workers write what they counted to the shared files at least every `FLUSH_S` (telemetry/multiprocess.py), so
    a scrape may read another worker's last requests a moment late; past that, the sum must be exact.
    """
    deadline = time.monotonic() + within_s
    async with httpx.AsyncClient(base_url=url, timeout=10) as http:
        while True:
            value = received((await http.get("/metrics")).text, outcome, source)
            if value == expected or time.monotonic() > deadline:
                return value
            await asyncio.sleep(FLUSH_S)


def _tail(log: Path) -> str:
    return log.read_text()[-3000:]
