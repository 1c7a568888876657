"""`make bench` in miniature (`python -m bench --quick`): the harness runs end to end on the real stack.

Not a performance test (figures from a 2 s run say nothing): it proves the harness starts every server,
drives them, finds every 202 in Kafka, drains the consumer topic with exact counts and writes its outputs.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def test_quick_bench_run_writes_results_and_loses_nothing(local_stack: tuple[str, str], tmp_path: Path) -> None:
    for tool in ("wrk", "go"):
        if shutil.which(tool) is None:
            pytest.fail(f"the bench harness needs {tool} (.ci/run installs wrk; Go comes with the machine)")
    bootstrap, redis_base = local_stack
    env = {**os.environ, "KAFKA_BOOTSTRAP_SERVERS": bootstrap, "REDIS_URL": f"{redis_base}/0"}
    result = subprocess.run(
        [sys.executable, "-m", "bench", "--quick", "--no-docs", "--out", str(tmp_path)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    results = json.loads((tmp_path / "latest.json").read_text())
    assert (tmp_path / "latest.png").stat().st_size > 10_000

    servers = {run["server"] for run in results["receiver"]["closed_loop"]}
    assert servers == {"ceiling", "seed", "receiver-librdkafka"}
    assert all(run["accepted"] > 0 and run["errors"] == 0 for run in results["receiver"]["closed_loop"])
    assert results["receiver"]["accepted"] > 0
    assert results["receiver"]["lost"] == 0
    [consumer] = results["consumer"]
    assert consumer["exact"]
    assert consumer["handled_ok"] == consumer["distinct"]
    assert consumer["duplicates"] == consumer["events"] - consumer["distinct"] > 0
    assert {target["target"] for target in results["targets"]} >= {
        "receiver req/s ÷ ceiling req/s",
        "receiver req/s ÷ seed req/s",
        "p99 at half the max rate (ms)",
        "consumer events/s, one worker",
    }
