"""`CONSUMER_HANDLERS=consumers.forward` in a real worker process, reading the real Kafka with the real Redis,
forwarding to a real HTTP server that verifies every delivery with the `standardwebhooks` package (the reference
Python library an agent would use): success, a 503 then 200 after its Retry-After, a 400 to the DLQ, an answer
too slow for `FORWARD_TIMEOUT_S` retried, and a worker with another secret, whose every delivery the server
refuses.
"""

from __future__ import annotations

import asyncio
import base64
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import standardwebhooks
from standardwebhooks.webhooks import WebhookVerificationError

from consumers.settings import Settings
from kafkaconfig.topics import ensure_topics
from schemas import Envelope
from schemas.topics import HEADER_ERROR_CLASS, HEADER_ERROR_MESSAGE, dlq_topic
from tests.integration.kafka_tools import envelope, produce, read_topic
from tests.integration.processes import run_to_end
from tests.integration.worker_process import PARTITIONS, Group, worker_process

SECRET = "whsec_" + base64.b64encode(b"forward-test-key-of-32-bytes....").decode()
OTHER_SECRET = "whsec_" + base64.b64encode(b"another-key-the-agent-won't-know").decode()
RETRY_AFTER_S = 2
FORWARD_TIMEOUT_S = 2
WAIT_S = 40.0


@dataclass
class Delivery:
    webhook_id: str
    at: float
    status: int
    event: Envelope | None


@dataclass
class AgentService:
    """What the agent's server saw. Each delivery is verified with `standardwebhooks` (401 if it fails), then
    answered with the next (status, headers, delay) scripted for its `webhook-id` (200 at once when the script is
    used up)."""

    script: dict[str, list[tuple[int, dict[str, str], float]]] = field(default_factory=dict)
    verified: list[Delivery] = field(default_factory=list)
    refused: list[Delivery] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def answer(self, headers: dict[str, str], body: bytes) -> tuple[int, dict[str, str], float]:
        webhook_id = headers.get("webhook-id", "")
        try:
            document = standardwebhooks.Webhook(SECRET).verify(body, headers)
        except WebhookVerificationError:
            with self.lock:
                self.refused.append(Delivery(webhook_id, time.monotonic(), 401, None))
            return 401, {}, 0.0
        with self.lock:
            steps = self.script.get(webhook_id, [])
            status, extra, delay_s = steps.pop(0) if steps else (200, {}, 0.0)
            self.verified.append(Delivery(webhook_id, time.monotonic(), status, Envelope.model_validate(document)))
        return status, extra, delay_s

    def seen(self, webhook_id: str) -> list[Delivery]:
        with self.lock:
            return [delivery for delivery in self.verified if delivery.webhook_id == webhook_id]


@contextmanager
def agent_server(agent: AgentService) -> Iterator[str]:
    """The agent service on a port of its own; yields its URL."""

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("content-length", "0")))
            status, extra, delay_s = agent.answer({name.lower(): value for name, value in self.headers.items()}, body)
            time.sleep(delay_s)
            try:
                self.send_response(status)
                for name, value in extra.items():
                    self.send_header(name, value)
                self.send_header("content-length", "2")
                self.end_headers()
                self.wfile.write(b"{}")
            except (BrokenPipeError, ConnectionResetError):
                pass  # the worker stopped waiting for a slow answer

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/agent/hooks"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


async def eventually(
    what: str, check: Callable[[], bool], processes: Sequence[tuple[subprocess.Popen[bytes], Path]]
) -> None:
    deadline = time.monotonic() + WAIT_S
    while not check():
        for process, log in processes:
            assert process.poll() is None, f"a worker exited: {log.read_text()}"
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.1)


async def test_a_worker_forwards_signed_events_retries_after_retry_after_and_dead_letters_refusals(
    kafka_bootstrap: str, redis_url: str, unique: str, tmp_path: Path
) -> None:
    right = Group(kafka_bootstrap, redis_url, unique)
    # A second group on the same provider's topic, whose FORWARD_SECRET the agent does not know.
    wrong = Group(kafka_bootstrap, redis_url, f"{unique}x")
    provider = right.provider
    settings = Settings(kafka_bootstrap_servers=kafka_bootstrap, kafka_topic_partitions=PARTITIONS)
    await ensure_topics(settings, [right.topic])
    ids = ["evt_ok", "evt_retry", "evt_bad", "evt_slow"]
    agent = AgentService(
        script={
            "evt_retry": [(503, {"retry-after": str(RETRY_AFTER_S)}, 0.0)],
            "evt_bad": [(400, {}, 0.0)],
            "evt_slow": [(200, {}, 2 * FORWARD_TIMEOUT_S)],  # answered only after the worker gave up waiting
        }
    )
    with agent_server(agent) as url:
        common = {
            "CONSUMER_HANDLERS": "consumers.forward",
            "CONSUMER_RETRY_BACKOFF_MS": "100",
            "CONSUMER_MAX_ATTEMPTS": "3",
            "FORWARD_URL": url,
            "FORWARD_TIMEOUT_S": str(FORWARD_TIMEOUT_S),
        }
        right_env = right.env(**common, FORWARD_SECRET=SECRET)
        wrong_env = {**wrong.env(**common, FORWARD_SECRET=OTHER_SECRET), "CONSUMER_PROVIDERS": provider}
        logs = [tmp_path / "right.log", tmp_path / "wrong.log"]
        with worker_process(right_env, logs[0]) as first, worker_process(wrong_env, logs[1]) as second:
            processes = [(first, logs[0]), (second, logs[1])]
            await produce(kafka_bootstrap, right.topic, [(i, envelope(i, provider=provider)) for i in ids], provider)

            await eventually(
                "the right group's deliveries",
                lambda: [len(agent.seen(i)) for i in ids] == [1, 2, 1, 2],
                processes,
            )
            await eventually("the wrong group's deliveries", lambda: len(agent.refused) == len(ids), processes)
            right_dead = await read_topic(kafka_bootstrap, dlq_topic(provider, right.group), expect=1)
            wrong_dead = await read_topic(kafka_bootstrap, dlq_topic(provider, wrong.group), expect=len(ids))
            await asyncio.sleep(1)  # nothing more comes: no delivery is repeated
            assert [len(agent.seen(i)) for i in ids] == [1, 2, 1, 2]
            assert len(agent.refused) == len(ids)

    [ok] = agent.seen("evt_ok")
    assert ok.status == 200
    assert ok.event is not None
    assert ok.event.id == "evt_ok"
    assert ok.event.provider == provider
    assert ok.event.payload == {"id": "evt_ok", "type": "order.created"}
    unavailable, retried = agent.seen("evt_retry")
    assert (unavailable.status, retried.status) == (503, 200)
    # The backoff is 100 ms: the second try waited for the answer's Retry-After instead.
    assert retried.at - unavailable.at >= RETRY_AFTER_S - 0.1
    assert [delivery.status for delivery in agent.seen("evt_bad")] == [400]
    unanswered, answered = agent.seen("evt_slow")
    assert answered.at - unanswered.at >= FORWARD_TIMEOUT_S - 0.1

    [dead] = right_dead
    assert dead.key == b"evt_bad"
    assert dead.headers[HEADER_ERROR_CLASS] == b"PermanentError"
    assert dead.headers[HEADER_ERROR_MESSAGE] == b"agent service answered 400 Bad Request"
    assert sorted(record.key for record in wrong_dead) == sorted(i.encode() for i in ids)
    for record in wrong_dead:
        assert record.headers[HEADER_ERROR_MESSAGE] == b"agent service answered 401 Unauthorized"
    assert sorted(delivery.webhook_id for delivery in agent.refused) == sorted(ids)

    for log in logs:
        text = log.read_text()
        for secret in (SECRET, OTHER_SECRET):
            assert secret.removeprefix("whsec_") not in text
        assert "/agent/hooks" not in text


async def test_a_bad_forward_setting_stops_the_worker_at_start_up_with_one_line(
    kafka_bootstrap: str, redis_url: str, unique: str
) -> None:
    short_key = base64.b64encode(b"short-but-secret").decode()  # 16 bytes: under the specification's 24
    group = Group(kafka_bootstrap, redis_url, unique)
    env = group.env(
        CONSUMER_HANDLERS="consumers.forward",
        FORWARD_URL="http://127.0.0.1:9/agent/hooks",
        FORWARD_SECRET=f"whsec_{short_key}",
        LOG_LEVEL="WARNING",
    )
    done = await asyncio.to_thread(run_to_end, [sys.executable, "-m", "consumers"], env)
    assert done.returncode == 2
    assert done.stderr.splitlines() == [
        "consumers: the lifespan consumers.forward.forwarder.open_forwarder failed to start: ConfigError: "
        "invalid configuration: FORWARD_SECRET: the key after whsec_ must be at least 24 bytes (it is 16)"
    ]
    assert short_key not in done.stdout + done.stderr
