"""`make run` as a newcomer sees it, on a fresh broker and Redis of its own (free ports, empty data).

The README's signed request gets a 202 and is handled once, a second one is counted as a duplicate, the
output of a healthy start holds no ERROR line and no traceback (a fresh broker's group coordinator is not
ready at first: that is expected, not an error), and Ctrl-C stops every process the run started.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.integration.ports import free_port, free_port_pair
from tests.integration.processes import alive, clean_environ, descendants
from tests.repository import ROOT, stack

START_TIMEOUT_S = 150.0
STOP_TIMEOUT_S = 90.0
# The README's quick start: `make run`'s development secret for the `hmac` source.
DEV_SECRET = b"dev-secret"


@pytest.fixture
def run_ports() -> Iterator[dict[str, str]]:
    kafka_port, redis_port = free_port_pair(), free_port()
    env = clean_environ()
    yield {
        **env,
        "KAFKA_BOOTSTRAP_SERVERS": f"localhost:{kafka_port}",
        "REDIS_URL": f"redis://127.0.0.1:{redis_port}/0",
        "RECEIVER_PORT": str(free_port()),
        "CONSUMER_METRICS_PORT": str(free_port()),
    }
    shutil.rmtree(stack.CACHE / "kafka" / f"kafka-{kafka_port}", ignore_errors=True)
    shutil.rmtree(stack.CACHE / f"redis-{redis_port}", ignore_errors=True)


def wait_for(what: str, check: object, timeout_s: float, run: subprocess.Popen[bytes], output: Path) -> float:
    assert callable(check)
    started = time.monotonic()
    while time.monotonic() - started < timeout_s:
        if run.poll() is not None:
            raise AssertionError(f"make run exited ({run.returncode}) before {what}:\n{output.read_text()[-3000:]}")
        if check():
            return time.monotonic() - started
        time.sleep(0.25)
    raise AssertionError(f"no {what} within {timeout_s:.0f}s:\n{output.read_text()[-3000:]}")


def post_until_accepted(http: httpx.Client, url: str, body: bytes, headers: dict[str, str]) -> httpx.Response:
    for _ in range(20):
        answer = http.post(url, content=body, headers=headers)
        if answer.status_code != 503:
            assert answer.status_code == 202, answer.text
            return answer
        time.sleep(1)
    raise AssertionError("20 answers of 503 in a row")


def test_make_run_starts_clean_handles_the_readme_request_once_and_ctrl_c_stops_everything(
    run_ports: dict[str, str], tmp_path: Path
) -> None:
    output = tmp_path / "run.log"
    base = f"http://127.0.0.1:{run_ports['RECEIVER_PORT']}"
    metrics_url = f"http://127.0.0.1:{run_ports['CONSUMER_METRICS_PORT']}/metrics"
    event_id = f"evt_{os.getpid()}_{int(time.time())}"
    body = f'{{"id":"{event_id}","type":"order.created","amount":4200}}'.encode()
    signature = "sha256=" + hmac.new(DEV_SECRET, body, hashlib.sha256).hexdigest()
    # As the README's curl: the delivery id in Idempotency-Key (the generic scheme never reads the body's id).
    headers = {"content-type": "application/json", "Idempotency-Key": event_id, "X-Signature-256": signature}

    with output.open("wb") as out:
        run = subprocess.Popen(
            [sys.executable, "compose/local/run.py"], cwd=ROOT, env=run_ports, stdout=out, stderr=subprocess.STDOUT
        )
    try:
        with httpx.Client(timeout=5) as http:

            def answers(url: str) -> bool:
                try:
                    return http.get(url).status_code == 200
                except httpx.HTTPError:
                    return False

            wait_for("/healthz", lambda: answers(f"{base}/healthz"), START_TIMEOUT_S, run, output)
            wait_for("/readyz", lambda: answers(f"{base}/readyz"), 60, run, output)
            wait_for("consumer metrics", lambda: answers(metrics_url), 60, run, output)
            # A person types the curl once the consumer has its partitions; so does this test.
            assigned = 'webhooks_consumer_lag{group="agents",partition="0",topic="webhooks.hmac"}'
            wait_for("the group's assignment", lambda: assigned in http.get(metrics_url).text, 60, run, output)
            started = descendants(run.pid)

            # Sent twice, as a provider retrying it would. A broker this fresh may not ack the very first records
            # within RECEIVER_PUBLISH_TIMEOUT_MS: that is a 503 with Retry-After, retried as providers do.
            for _ in range(2):
                answer = post_until_accepted(http, f"{base}/webhooks/hmac", body, headers)
                assert answer.json() == {"status": "accepted", "id": event_id}

            def outcomes() -> dict[str, float]:
                # `processed` counts per handler: the example has one for hmac events.
                labels = r'group="agents",(?:handler="on_signed_event",)?(?:outcome="(\w+)",)?provider="hmac"'
                pattern = rf"^webhooks_(\w+)_total\{{{labels}\}} (\S+)$"
                found = re.findall(pattern, http.get(metrics_url).text, re.M)
                return {f"{name}:{outcome}".rstrip(":"): float(value) for name, outcome, value in found}

            def dealt_with() -> bool:
                seen = outcomes()
                done = seen.get("processed:ok", 0) + seen.get("processed:duplicate", 0)
                return done >= 2 and done == seen.get("consumed", 0)

            wait_for("both deliveries dealt with", dealt_with, 90, run, output)
            seen = outcomes()
            assert seen["processed:ok"] == 1
            assert seen["duplicates"] == seen["consumed"] - 1
    finally:
        run.send_signal(signal.SIGINT)
        try:
            code = run.wait(timeout=STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            run.kill()
            raise
    text = output.read_text()
    assert code == 0, text[-3000:]
    assert len(re.findall(rf"event {event_id} \(order.created, attempt 1\): agent run", text)) == 1, text[-3000:]
    assert [line for line in text.splitlines() if " ERROR " in line or "Traceback" in line] == []
    assert "stopped kafka" in text
    assert "stopped redis" in text
    assert len(started) >= 4  # receiver, consumer, broker, redis
    assert sorted(pid for pid in started if alive(pid)) == []
