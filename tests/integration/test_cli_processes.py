"""`webhooks serve`, `webhooks send` and `webhooks consume` as installed, against the real Kafka and Redis."""

from __future__ import annotations

import asyncio
import signal
import sys
import time
from pathlib import Path

import httpx

from schemas import Envelope
from tests.integration.kafka_tools import read_topic
from tests.integration.ports import free_port
from tests.integration.processes import run_to_end, started
from tests.integration.receiver_process import ReceiverSource, wait_ready

SCRIPT = Path(sys.executable).parent / "webhooks"


def test_serve_and_send_deliver_an_event_to_kafka(kafka_bootstrap: str, unique: str, tmp_path: Path) -> None:
    source = ReceiverSource(unique, secret="cli-secret")
    env = source.env(kafka_bootstrap, tmp_path)
    log = tmp_path / "serve.log"
    with started([str(SCRIPT), "serve"], env, log) as serve:
        try:
            asyncio.run(wait_ready(serve, f"http://127.0.0.1:{env['RECEIVER_PORT']}", log))
            sent = run_to_end([str(SCRIPT), "send", source.name], env)
            assert sent.returncode == 0, sent.stderr
            assert sent.stdout.startswith("202 ")
        finally:
            serve.send_signal(signal.SIGTERM)
            # uvicorn shuts down cleanly, then re-raises the signal it caught, as `python -m receiver` does.
            assert serve.wait(timeout=30) in {0, -signal.SIGTERM}, log.read_text()[-2000:]
    assert "Application shutdown complete." in log.read_text()
    [record] = asyncio.run(read_topic(kafka_bootstrap, source.topic, expect=1))
    assert record.value is not None
    assert Envelope.from_bytes(record.value).source == source.name


def test_consume_joins_serves_metrics_and_stops_on_sigterm(
    kafka_bootstrap: str, redis_url: str, unique: str, tmp_path: Path
) -> None:
    port = free_port()
    env = ReceiverSource(unique, secret="unused").env(kafka_bootstrap, tmp_path) | {
        "REDIS_URL": redis_url,
        "CONSUMER_GROUP": f"cli-{unique}",
        "CONSUMER_PROVIDERS": "hmac",
        "CONSUMER_HANDLERS": "consumers.examples.agent",
        "CONSUMER_METRICS_PORT": str(port),
        "LOG_FORMAT": "text",
    }
    log = tmp_path / "consume.log"
    with started([str(SCRIPT), "consume"], env, log) as consume:
        try:
            deadline = time.monotonic() + 60
            while "consuming webhooks.hmac" not in log.read_text():
                assert consume.poll() is None, log.read_text()[-2000:]
                assert time.monotonic() < deadline, log.read_text()[-2000:]
                time.sleep(0.2)
            assert httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=5).status_code == 200
        finally:
            consume.send_signal(signal.SIGTERM)
            code = consume.wait(timeout=60)
    assert code == 0, log.read_text()[-2000:]
    assert f"left group cli-{unique}" in log.read_text()
