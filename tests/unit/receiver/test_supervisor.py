"""The receiver's supervisor with real child processes (small Python scripts in place of the app): what it
does when a worker can't start, keeps dying, or when it is told to stop."""

from __future__ import annotations

import os
import signal
import socket
import sys
import threading
import time
from pathlib import Path

import pytest

from receiver.settings import ReceiverSettings
from receiver.supervisor import Supervisor, listen, worker_cpus
from supervision.group import MAX_RESTARTS, METRICS_DIR_ENV, describe_exit

# A worker that checks what it inherited, says so in a file, and stops on SIGTERM with exit 0.
POLITE = """
import os, pathlib, signal, socket, sys, time
options = dict(arg[2:].split("=") for arg in sys.argv[2:])
sock = socket.socket(fileno=int(options["listen-fd"]))
os.fstat(int(options["parent-fd"]))
out = pathlib.Path(sys.argv[1]) / str(os.getpid())
out.write_text(f"port {sock.getsockname()[1]} metrics {os.environ['PROMETHEUS_MULTIPROC_DIR']}")
def stop(*_):
    out.write_text(out.read_text() + " stopped")
    sys.exit(0)
signal.signal(signal.SIGTERM, stop)
while True:
    time.sleep(1)
"""

# A worker that writes the arguments it was given to a file, then waits to be stopped.
TELLING = """
import os, pathlib, sys, time
pathlib.Path(sys.argv[1], str(os.getpid())).write_text(" ".join(sys.argv[2:]))
time.sleep(60)
"""


def supervisor(script: str, *args: str, env: dict[str, str] | None = None) -> Supervisor:
    settings = ReceiverSettings(RECEIVER_WORKERS=2, RECEIVER_PORT=0)  # type: ignore[call-arg]
    clean = {key: value for key, value in os.environ.items() if key != METRICS_DIR_ENV}
    return Supervisor(settings, env={**clean, **(env or {})}, command=(sys.executable, "-c", script, *args))


def test_a_worker_that_cannot_start_stops_the_receiver_with_its_code() -> None:
    started = time.monotonic()
    assert supervisor("import sys; sys.exit(3)").run() == 3
    assert time.monotonic() - started < 5


def test_workers_dying_again_and_again_stop_the_receiver(caplog: pytest.LogCaptureFixture) -> None:
    assert supervisor("import sys; sys.exit(1)").run() == 1
    assert caplog.text.count("died (exit 1): starting a new one") == MAX_RESTARTS
    assert f"more than {MAX_RESTARTS} deaths within 60 s: stopping" in caplog.text


def test_sigterm_stops_every_worker_and_the_supervisor_exits_0(tmp_path: Path) -> None:
    metrics_dir = tmp_path / "metrics"
    metrics_dir.mkdir()
    (metrics_dir / "counter_1.db").write_bytes(b"an earlier run's")
    out = tmp_path / "out"
    out.mkdir()

    def stop_when_both_started() -> None:
        deadline = time.monotonic() + 20
        while len(list(out.iterdir())) < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
        os.kill(os.getpid(), signal.SIGTERM)

    threading.Thread(target=stop_when_both_started, daemon=True).start()
    assert supervisor(POLITE, str(out), env={METRICS_DIR_ENV: str(metrics_dir)}).run() == 0

    reports = [path.read_text() for path in out.iterdir()]
    assert len(reports) == 2
    assert all(report.endswith(" stopped") for report in reports), reports
    # Both got the same port and the metrics directory, emptied of the earlier run's file.
    assert len({report.split()[1] for report in reports}) == 1
    assert all(f"metrics {metrics_dir} " in report for report in reports)
    assert not (metrics_dir / "counter_1.db").exists()


def test_listen_binds_every_socket_to_one_port() -> None:
    sockets = listen("127.0.0.1", 0, 3)
    try:
        ports = {sock.getsockname()[1] for sock in sockets}
        assert len(ports) == 1
        with socket.create_connection(("127.0.0.1", ports.pop()), timeout=2):
            pass
    finally:
        for sock in sockets:
            sock.close()


def test_a_taken_port_is_one_error_line(caplog: pytest.LogCaptureFixture) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        settings = ReceiverSettings(RECEIVER_WORKERS=2, RECEIVER_PORT=port)  # type: ignore[call-arg]
        assert Supervisor(settings, command=(sys.executable, "-c", "")).run() == 1
    assert f"can't listen on 127.0.0.1:{port}" in caplog.text


@pytest.mark.parametrize(("code", "text"), [(1, "exit 1"), (-9, "killed by SIGKILL"), (-99, "killed by signal 99")])
def test_describe_exit(code: int, text: str) -> None:
    assert describe_exit(code) == text


@pytest.mark.parametrize(
    ("workers", "pin", "available", "cpus"),
    [
        (2, True, {0, 1}, [0, 1]),  # one worker per CPU: pinned
        (3, True, {7, 2, 5}, [2, 5, 7]),  # a cpuset: its CPUs, in order
        (2, False, {0, 1}, [None, None]),  # RECEIVER_PIN_WORKERS=false
        (2, True, {0, 1, 2, 3}, [None, None]),  # CPUs left over are other work's: nothing pinned
        (4, True, {0, 1}, [None] * 4),  # more workers than CPUs
        (1, True, {0}, [None]),  # one process: nothing to spread
    ],
)
def test_workers_are_pinned_one_per_cpu_only_when_they_fill_the_cpus(
    workers: int, pin: bool, available: set[int], cpus: list[int | None]
) -> None:
    assert worker_cpus(workers, pin, available) == cpus


def test_each_worker_is_told_its_cpu(tmp_path: Path) -> None:
    def stop_when_both_started() -> None:
        deadline = time.monotonic() + 20
        while len(list(tmp_path.iterdir())) < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
        os.kill(os.getpid(), signal.SIGTERM)

    settings = ReceiverSettings(RECEIVER_WORKERS=2, RECEIVER_PORT=0, RECEIVER_PIN_WORKERS=True)  # type: ignore[call-arg]
    clean = {key: value for key, value in os.environ.items() if key != METRICS_DIR_ENV}
    group = Supervisor(settings, env=clean, command=(sys.executable, "-c", TELLING, str(tmp_path)), cpus={4, 9})
    threading.Thread(target=stop_when_both_started, daemon=True).start()
    assert group.run() == 0
    told = sorted(path.read_text().split()[1] for path in tmp_path.iterdir())
    assert told == ["--cpu=4", "--cpu=9"]
