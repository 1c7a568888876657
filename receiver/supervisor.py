"""`RECEIVER_WORKERS=N`: N receiver processes on one port, started, watched and stopped together.

    python -m receiver                      the supervisor: no app, no Kafka client
    ├── binds the port: one listening socket per worker with SO_REUSEPORT (the kernel spreads new
    │   connections over them), or one shared socket where the platform has no SO_REUSEPORT
    ├── empties the metrics directory (PROMETHEUS_MULTIPROC_DIR, or a temporary one of its own)
    └── python -m receiver worker ...       N times: the app under uvicorn on its inherited socket

Every worker writes its counters to the metrics directory (prometheus_client's multiprocess mode) and
every worker's `/metrics` adds all files up, so any one scrape reads the whole receiver. The files of a
dead worker stay: what it counted was answered.

SIGTERM or SIGINT stops every worker gracefully (uvicorn drains, the lifespan flushes the producer), then
the supervisor exits 0. A worker that dies while serving is logged and replaced: its socket stays open in
the supervisor, so connections the kernel gave it wait for the new worker instead of being refused. A
worker that fails to start (exit 2 or 3) would fail the same way again, and one dying over and over is
broken, not unlucky: both stop the whole receiver loudly, for the orchestrator to see. Workers hold the
read end of a pipe whose write end only the supervisor has; if the supervisor is killed outright they
read end-of-file and stop, so no worker outlives it.
"""

from __future__ import annotations

import logging
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType

from prometheus_client.multiprocess import mark_process_dead

from receiver.settings import ReceiverSettings

logger = logging.getLogger(__name__)

# prometheus_client's own variable: where multiprocess mode keeps one file per process and metric type.
METRICS_DIR_ENV = "PROMETHEUS_MULTIPROC_DIR"

# `python -m receiver worker` exits with these when it could not start (a bad setting, the app's
# start-up failed): a new worker would fail the same way.
START_FAILURES = frozenset({2, 3})
# More replacements than this within the window, and the receiver stops: something kills every worker.
MAX_RESTARTS = 5
RESTART_WINDOW_S = 60.0
# uvicorn's graceful shutdown (10 s) plus the producer's flush; then SIGKILL.
STOP_TIMEOUT_S = 20.0
# How often the supervisor looks at its workers; a signal cuts the sleep short.
POLL_S = 0.2
# uvicorn's default listen backlog.
BACKLOG = 2048


@dataclass
class _Worker:
    index: int
    sock: socket.socket
    process: subprocess.Popen[bytes] | None = None


@dataclass
class Supervisor:
    """Runs `settings.workers` receiver processes until a signal, or until they can't be kept running.

    Args:
        settings: the receiver's settings; `host`, `port` and `workers` are used here, the workers read
            the rest from the environment they inherit.
        env: the workers' environment (default: this process's).
        command: how to start a worker; `--listen-fd=F --parent-fd=P` are added.
    """

    settings: ReceiverSettings
    env: dict[str, str] = field(default_factory=lambda: dict(os.environ))
    command: Sequence[str] = (sys.executable, "-m", "receiver", "worker")
    _stop_signal: int | None = None
    _restarts: deque[float] = field(default_factory=deque)

    def run(self) -> int:
        """Serve until stopped; the exit code (0 after SIGTERM or SIGINT)."""
        try:
            sockets = listen(self.settings.host, self.settings.port, self.settings.workers)
        except OSError as exc:
            logger.error("can't listen on %s:%d: %s", self.settings.host, self.settings.port, exc.strerror)
            return 1
        metrics_dir, owned = prepare_metrics_dir(self.env.get(METRICS_DIR_ENV))
        env = {**self.env, METRICS_DIR_ENV: str(metrics_dir)}
        parent_read, parent_write = os.pipe()
        workers = [_Worker(index, sockets[index % len(sockets)]) for index in range(self.settings.workers)]
        previous = {signum: signal.signal(signum, self._on_signal) for signum in (signal.SIGTERM, signal.SIGINT)}
        port = sockets[0].getsockname()[1]
        logger.info(
            "serving %s:%d with %d workers (metrics in %s)", self.settings.host, port, len(workers), metrics_dir
        )
        try:
            for worker in workers:
                self._start(worker, env, parent_read)
            code = self._watch(workers, env, parent_read, metrics_dir)
        finally:
            self._stop(workers, metrics_dir)
            for signum, handler in previous.items():
                signal.signal(signum, handler)
            os.close(parent_write)
            os.close(parent_read)
            for sock in sockets:
                sock.close()
            if owned:
                shutil.rmtree(metrics_dir, ignore_errors=True)
        return code

    def _on_signal(self, signum: int, _: FrameType | None) -> None:
        self._stop_signal = signum

    def _start(self, worker: _Worker, env: dict[str, str], parent_read: int) -> None:
        fd = worker.sock.fileno()
        command = [*self.command, f"--listen-fd={fd}", f"--parent-fd={parent_read}"]
        worker.process = subprocess.Popen(command, env=env, pass_fds=(fd, parent_read))  # noqa: S603 (our own command)
        logger.info("worker %d started (pid %d)", worker.index, worker.process.pid)

    def _watch(self, workers: list[_Worker], env: dict[str, str], parent_read: int, metrics_dir: Path) -> int:
        while self._stop_signal is None:
            time.sleep(POLL_S)
            for worker in workers:
                assert worker.process is not None
                code = worker.process.poll()
                if code is None:
                    continue
                mark_process_dead(worker.process.pid, str(metrics_dir))  # type: ignore[no-untyped-call]
                if code in START_FAILURES:
                    logger.error("worker %d could not start (exit %d): stopping the receiver", worker.index, code)
                    return code
                if not self._may_restart():
                    logger.error(
                        "worker %d died (%s), more than %d deaths within %.0f s: stopping the receiver",
                        worker.index,
                        describe_exit(code),
                        MAX_RESTARTS,
                        RESTART_WINDOW_S,
                    )
                    return 1
                logger.error("worker %d died (%s): starting a new one", worker.index, describe_exit(code))
                self._start(worker, env, parent_read)
        logger.info("%s: stopping %d workers", signal.Signals(self._stop_signal).name, len(workers))
        return 0

    def _may_restart(self) -> bool:
        now = time.monotonic()
        while self._restarts and now - self._restarts[0] > RESTART_WINDOW_S:
            self._restarts.popleft()
        if len(self._restarts) >= MAX_RESTARTS:
            return False
        self._restarts.append(now)
        return True

    def _stop(self, workers: list[_Worker], metrics_dir: Path) -> None:
        running = [w.process for w in workers if w.process is not None and w.process.poll() is None]
        for process in running:
            process.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + STOP_TIMEOUT_S
        for process in running:
            try:
                process.wait(timeout=max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                logger.error("worker pid %d did not stop within %.0f s: killing it", process.pid, STOP_TIMEOUT_S)
                process.kill()
                process.wait()
        for worker in workers:
            if worker.process is not None:
                mark_process_dead(worker.process.pid, str(metrics_dir))  # type: ignore[no-untyped-call]


def listen(host: str, port: int, count: int) -> list[socket.socket]:
    """Listening sockets on host:port for `count` workers: one each with SO_REUSEPORT, else one shared.

    Port 0 picks a free port once; every socket then binds that one.
    """
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    reuse_port = hasattr(socket, "SO_REUSEPORT")
    sockets: list[socket.socket] = []
    try:
        for _ in range(count if reuse_port else 1):
            sock = socket.socket(family, socket.SOCK_STREAM)
            sockets.append(sock)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            if reuse_port:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
            sock.bind((host, port))
            port = sock.getsockname()[1]
            sock.listen(BACKLOG)
    except OSError:
        for sock in sockets:
            sock.close()
        raise
    return sockets


def prepare_metrics_dir(configured: str | None) -> tuple[Path, bool]:
    """The metrics directory, emptied of an earlier run's files; whether it is ours to remove at exit.

    prometheus_client adds up every file it finds there, so a previous run's counts must go.
    """
    if not configured:
        return Path(tempfile.mkdtemp(prefix="receiver-metrics-")), True
    path = Path(configured)
    path.mkdir(parents=True, exist_ok=True)
    for stale in path.glob("*.db"):
        stale.unlink()
    return path, False


def describe_exit(code: int) -> str:
    """`exit 1`, or the signal's name for a process a signal ended (Popen reports it negated)."""
    if code < 0:
        try:
            return f"killed by {signal.Signals(-code).name}"
        except ValueError:
            return f"killed by signal {-code}"
    return f"exit {code}"
