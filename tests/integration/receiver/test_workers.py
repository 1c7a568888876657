"""`RECEIVER_WORKERS=2` on the real stack: two processes serve one port, `/metrics` adds them up exactly, a
killed worker is replaced without losing its counts, and nothing outlives the supervisor."""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
from pathlib import Path

import httpx
import orjson
from prometheus_client import CollectorRegistry
from prometheus_client.multiprocess import MultiProcessCollector

from tests.integration.kafka_tools import read_topic
from tests.integration.polling import eventually
from tests.integration.processes import alive, children
from tests.integration.receiver_process import ReceiverSource, receiver_process, scraped, wait_ready
from tests.signing import hmac_headers

SENDERS = 16  # connections: the kernel spreads them over both workers' sockets
FIRST = 300
SECOND = 100
WAIT_S = 30.0


def thread_cpus(pid: int) -> list[tuple[int, ...]]:
    """The distinct CPU sets the threads of a process may run on, each sorted."""
    return sorted({tuple(sorted(os.sched_getaffinity(int(tid)))) for tid in os.listdir(f"/proc/{pid}/task")})


def accepted_by(pid: int, metrics_dir: Path, scratch: Path, source: str) -> float:
    """What one worker counted: its own counter file, read alone."""
    scratch.mkdir()
    shutil.copy(metrics_dir / f"counter_{pid}.db", scratch)
    registry = CollectorRegistry()
    MultiProcessCollector(registry, path=str(scratch))  # type: ignore[no-untyped-call]
    value = registry.get_sample_value(
        "webhooks_received_total", {"source": source, "provider": "hmac", "outcome": "accepted"}
    )
    return value or 0.0


async def send(url: str, source: ReceiverSource, ids: list[str]) -> list[str]:
    """POST one event per id over SENDERS connections; the ids answered 202."""
    pending = iter(ids)
    accepted: list[str] = []

    async def sender(http: httpx.AsyncClient) -> None:
        for event_id in pending:
            body = orjson.dumps({"id": event_id, "type": "workers.test"})
            response = await http.post(
                f"/webhooks/{source.name}", content=body, headers=hmac_headers(body, source.secret)
            )
            if response.status_code == 202:
                accepted.append(event_id)

    async with httpx.AsyncClient(base_url=url, timeout=10, limits=httpx.Limits(max_connections=SENDERS)) as http:
        await asyncio.gather(*(sender(http) for _ in range(SENDERS)))
    return accepted


async def test_two_workers_share_the_port_and_metrics_count_every_accepted_request(
    kafka_bootstrap: str, unique: str, tmp_path: Path
) -> None:
    metrics_dir = tmp_path / "metrics"
    metrics_dir.mkdir()
    # An earlier run's file: counted, it would make every total wrong (and this one can't even be read).
    (metrics_dir / "counter_1.db").write_bytes(b"left over")
    source = ReceiverSource(unique, "workers-secret")
    env = source.env(
        kafka_bootstrap,
        tmp_path,
        RECEIVER_WORKERS="2",
        RECEIVER_PIN_WORKERS="true",
        PROMETHEUS_MULTIPROC_DIR=str(metrics_dir),
    )
    url = f"http://127.0.0.1:{env['RECEIVER_PORT']}"
    log = tmp_path / "receiver.log"

    with receiver_process(env, log) as supervisor:
        await eventually(lambda: len(children(supervisor.pid)) == 2, "two workers", WAIT_S)
        first_workers = children(supervisor.pid)
        await wait_ready(supervisor, url, log)
        assert not (metrics_dir / "counter_1.db").exists()
        # Pinned, as many workers as CPUs: each worker on one, every thread of it (librdkafka's too); else none.
        # A worker pins itself once its imports are done, and /readyz may have been the other worker's answer.
        available = sorted(os.sched_getaffinity(0))
        expected = [[(cpu,)] for cpu in available] if len(available) == 2 else [[tuple(available)]] * 2
        await eventually(
            lambda: sorted(thread_cpus(pid) for pid in first_workers) == expected, f"threads on {expected}", WAIT_S
        )

        accepted = await send(url, source, [f"evt_{unique}_a{n:04d}" for n in range(FIRST)])
        assert await scraped(url, len(accepted), "accepted", source.name) == len(accepted)
        for n, pid in enumerate(first_workers):
            assert accepted_by(pid, metrics_dir, tmp_path / f"alone{n}", source.name) > 0, f"worker {pid} idle"

        # A worker dies: a new one takes its place, and what the dead one counted still counts.
        killed = min(first_workers)
        os.kill(killed, signal.SIGKILL)
        await eventually(lambda: len(children(supervisor.pid) - first_workers) == 1, "a replacement worker", WAIT_S)
        await wait_ready(supervisor, url, log)
        accepted += await send(url, source, [f"evt_{unique}_b{n:04d}" for n in range(SECOND)])
        assert await scraped(url, len(accepted), "accepted", source.name) == len(accepted)
        assert len(accepted) >= 0.9 * (FIRST + SECOND), log.read_text()[-3000:]

        workers = children(supervisor.pid)
        supervisor.send_signal(signal.SIGTERM)
        assert supervisor.wait(timeout=WAIT_S) == 0
        await eventually(lambda: not any(alive(pid) for pid in workers), "every worker stopped", WAIT_S)

    records = await read_topic(kafka_bootstrap, source.topic, expect=len(accepted))
    assert {orjson.loads(record.value)["id"] for record in records} >= set(accepted)
    assert "died (killed by SIGKILL): starting a new one" in log.read_text()


async def test_workers_stop_when_the_supervisor_is_killed(kafka_bootstrap: str, unique: str, tmp_path: Path) -> None:
    source = ReceiverSource(unique, "workers-secret")
    env = source.env(kafka_bootstrap, tmp_path, RECEIVER_WORKERS="2")
    log = tmp_path / "receiver.log"
    with receiver_process(env, log) as supervisor:
        await eventually(lambda: len(children(supervisor.pid)) == 2, "two workers", WAIT_S)
        workers = children(supervisor.pid)
        try:
            supervisor.kill()
            supervisor.wait(timeout=WAIT_S)
            await eventually(lambda: not any(alive(pid) for pid in workers), "the orphaned workers stopped", WAIT_S)
        finally:
            for pid in workers:
                if alive(pid):
                    os.kill(pid, signal.SIGKILL)
    assert "the supervisor is gone: stopping" in log.read_text()
