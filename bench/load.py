"""Driving load: wrk (closed loop, for the most a server can take) and the open-loop generator (for latency
at a fixed rate), both replaying the same pre-signed corpus with a distinct delivery id per request."""

from __future__ import annotations

import json
import math
import shutil
import subprocess
import uuid
from dataclasses import asdict, dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
WRK_SCRIPT = ROOT / "bench" / "wrk" / "replay.lua"
LOADGEN_SRC = ROOT / "bench" / "loadgen"
LOADGEN_BIN = ROOT / ".cache" / "bench" / "loadgen"
# wrk's threads (at most one per connection): the load generator shares the 2 cores with the servers.
WRK_THREADS = 2


@dataclass
class LoadResult:
    """One load run against one server."""

    server: str
    connections: int
    requests: int
    accepted: int
    refused: int
    errors: int
    duration_s: float
    accepted_per_s: float
    p50_ms: float
    p90_ms: float
    p99_ms: float
    max_ms: float
    body_bytes: float
    target_rate: float | None = None
    # Open loop: the p99 of the time requests waited on the generator's side (every connection busy, or the
    # generator behind its schedule) before one was sent: part of the latency, none of it the server's work.
    queued_p99_ms: float | None = None
    round: int = 0
    # CPU-seconds the server's processes used during the run, and per 1,000 requests answered.
    cpu_s: float | None = None
    cpu_s_per_1k: float | None = None
    # The same for what shares the cores with it: the Kafka broker (when it runs on this machine) and the load
    # generator; server, broker and client together are what a run costs the machine.
    broker_cpu_s_per_1k: float | None = None
    client_cpu_s_per_1k: float | None = None
    # A receiver's: its accepted requests per produce request its producers sent meanwhile, from its /metrics.
    # The broker's CPU goes with the requests (librdkafka sends one partition per request; docs/performance.md).
    records_per_request: float | None = None

    def charge(self, cpu_s: float) -> None:
        self.cpu_s = round(cpu_s, 3)
        self.cpu_s_per_1k = self._per_1k(cpu_s)

    def charge_others(self, broker_cpu_s: float | None, client_cpu_s: float) -> None:
        self.broker_cpu_s_per_1k = None if broker_cpu_s is None else self._per_1k(broker_cpu_s)
        self.client_cpu_s_per_1k = self._per_1k(client_cpu_s)

    def count_produce_requests(self, accepted: float, produce_requests: float) -> None:
        self.records_per_request = round(accepted / produce_requests, 2) if produce_requests else None

    def _per_1k(self, cpu_s: float) -> float | None:
        return round(1000 * cpu_s / self.requests, 4) if self.requests else None

    def as_dict(self) -> dict[str, object]:
        return asdict(self)


def require_tools() -> None:
    missing = [tool for tool in ("wrk", "go") if shutil.which(tool) is None]
    if missing:
        raise SystemExit(f"bench: needs {' and '.join(missing)} (apt-get install -y wrk; Go from the machine image)")


def build_loadgen() -> Path:
    LOADGEN_BIN.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run(["go", "build", "-o", str(LOADGEN_BIN), "."], cwd=LOADGEN_SRC, check=True)
    return LOADGEN_BIN


def wrk(
    server: str, url: str, corpus: Path, *, connections: int, seconds: int, ids_dir: Path, body_bytes: float
) -> LoadResult:
    """Closed loop: each connection sends its next request when the last one was answered."""
    run_dir = ids_dir / f"wrk-{uuid.uuid4().hex[:8]}"
    run_dir.mkdir(parents=True)
    args = [str(corpus), run_dir.name, str(run_dir)]
    return wrk_script(server, url, WRK_SCRIPT, args, connections=connections, seconds=seconds, body_bytes=body_bytes)


def wrk_script(
    server: str, url: str, script: Path, args: list[str], *, connections: int, seconds: int, body_bytes: float
) -> LoadResult:
    """wrk, closed loop, with a script of `bench/wrk` that ends by printing its JSON summary line."""
    threads = min(WRK_THREADS, connections)
    output = subprocess.run(
        [
            "wrk",
            f"-t{threads}",
            f"-c{connections}",
            f"-d{seconds}s",
            "--timeout",
            "10s",
            "-s",
            str(script),
            url,
            "--",
            *args,
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    summary = json.loads(output.strip().splitlines()[-1])
    return _result(server, connections, summary, body_bytes)


# The open-loop generator's connections: enough for its rate with each request taking this long (Little's law:
# in flight = rate x latency), twice the 25 ms a p99 may take, and never fewer than 64. With too few, requests
# queue on the generator's side once its connections are all busy, and the client-side figures measure that queue.
OPEN_LOOP_SECONDS_IN_FLIGHT = 0.05
OPEN_LOOP_MIN_CONNECTIONS = 64


def open_loop_connections(rate: float) -> int:
    """How many connections the open-loop generator opens for `rate` requests per second."""
    return max(OPEN_LOOP_MIN_CONNECTIONS, math.ceil(rate * OPEN_LOOP_SECONDS_IN_FLIGHT))


def open_loop(
    server: str,
    url: str,
    corpus: Path,
    *,
    rate: float,
    seconds: int,
    ids_file: Path,
    body_bytes: float,
) -> LoadResult:
    """Open loop: requests leave on schedule, over `open_loop_connections(rate)` connections; latency counts from
    when each was due."""
    connections = open_loop_connections(rate)
    output = subprocess.run(
        [
            str(LOADGEN_BIN),
            "-url",
            url,
            "-corpus",
            str(corpus),
            "-rate",
            str(rate),
            "-duration",
            f"{seconds}s",
            "-conns",
            str(connections),
            "-run",
            f"open-{uuid.uuid4().hex[:8]}",
            "-accepted",
            str(ids_file),
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    summary = json.loads(output.strip().splitlines()[-1])
    result = _result(server, connections, summary, body_bytes)
    result.target_rate = rate
    result.queued_p99_ms = summary["queued_p99_us"] / 1000
    return result


def accepted_ids(ids_dir: Path) -> set[str]:
    """Every delivery id a load run saw answered 202."""
    ids: set[str] = set()
    for path in ids_dir.rglob("*.txt"):
        ids.update(line for line in path.read_text().splitlines() if line)
    return ids


def _result(server: str, connections: int, summary: dict[str, float], body_bytes: float) -> LoadResult:
    duration_s = summary["duration_us"] / 1e6
    return LoadResult(
        server=server,
        connections=connections,
        requests=int(summary["requests"]),
        accepted=int(summary["accepted"]),
        refused=int(summary["refused"]),
        errors=int(summary["errors"]),
        duration_s=round(duration_s, 2),
        accepted_per_s=round(summary["accepted"] / duration_s, 1),
        p50_ms=summary["p50_us"] / 1000,
        p90_ms=summary["p90_us"] / 1000,
        p99_ms=summary["p99_us"] / 1000,
        max_ms=summary["max_us"] / 1000,
        body_bytes=round(body_bytes),
    )
