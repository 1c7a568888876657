"""A group of worker processes started, watched and stopped together, counted in one metrics directory.

    WorkerGroup(name, count, command, env, metrics_dir).run()
    ├── starts `count` processes: command(index) plus `--parent-fd=P`, P inherited
    ├── a worker that dies is replaced; one that can't start (exit 2 or 3), or more than MAX_RESTARTS
    │   deaths within RESTART_WINDOW_S, stops the group with an error: a new one would fail the same way,
    │   and a worker dying over and over is broken, not unlucky; the orchestrator must see it
    └── SIGTERM or SIGINT: SIGTERM to every worker, STOP_TIMEOUT_S to finish, then SIGKILL; exit 0

Workers count in the metrics directory (prometheus_client's multiprocess mode, PROMETHEUS_MULTIPROC_DIR):
one file per process and metric type, added up by whoever reads them. A dead worker's counters stay
(what it counted happened); its live gauges go (`mark_process_dead`).

P is the read end of a pipe whose write end only the supervisor holds: a worker that reads end-of-file
from it knows the supervisor is gone (killed outright, no signal forwarded) and stops, so none outlives it.
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import tempfile
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType

from prometheus_client.multiprocess import mark_process_dead

logger = logging.getLogger(__name__)

# prometheus_client's own variable: where multiprocess mode keeps one file per process and metric type.
METRICS_DIR_ENV = "PROMETHEUS_MULTIPROC_DIR"
# Exit codes of a worker that could not start: 2 a bad setting, 3 its start-up failed (uvicorn's code).
START_FAILURES = frozenset({2, 3})
MAX_RESTARTS = 5
RESTART_WINDOW_S = 60.0
# The slowest worker's graceful stop (uvicorn's 10 s drain, a consumer's 20 s handler grace) and its flush.
STOP_TIMEOUT_S = 30.0
# How often the supervisor looks at its workers.
POLL_S = 0.2


@dataclass
class WorkerGroup:
    """`count` workers of `command`, kept running until SIGTERM or SIGINT.

    Args:
        name: what the workers are, for log lines ("receiver").
        count: how many run at once.
        command: (argv, file descriptors to pass) of worker `index`; `--parent-fd=P` is appended.
        env: the workers' environment; METRICS_DIR_ENV is set to `metrics_dir`.
        metrics_dir: their metrics directory (`metrics_dir()` makes one).
    """

    name: str
    count: int
    command: Callable[[int], tuple[Sequence[str], Sequence[int]]]
    env: dict[str, str]
    metrics_dir: Path
    _processes: list[subprocess.Popen[bytes] | None] = field(default_factory=list)
    _stop_signal: int | None = None
    _restarts: deque[float] = field(default_factory=deque)

    def run(self) -> int:
        """Run until stopped; the exit code: 0 after a signal, else the reason the group gave up."""
        self._processes = [None] * self.count
        env = {**self.env, METRICS_DIR_ENV: str(self.metrics_dir)}
        parent_read, parent_write = os.pipe()
        previous = {signum: signal.signal(signum, self._on_signal) for signum in (signal.SIGTERM, signal.SIGINT)}
        try:
            for index in range(self.count):
                self._start(index, env, parent_read)
            return self._watch(env, parent_read)
        finally:
            self._stop()
            for signum, handler in previous.items():
                signal.signal(signum, handler)
            os.close(parent_write)
            os.close(parent_read)

    def pids(self) -> list[int]:
        return [process.pid for process in self._processes if process is not None]

    def _on_signal(self, signum: int, _: FrameType | None) -> None:
        self._stop_signal = signum

    def _start(self, index: int, env: dict[str, str], parent_read: int) -> None:
        argv, fds = self.command(index)
        process = subprocess.Popen(  # noqa: S603 (our own command)
            [*argv, f"--parent-fd={parent_read}"], env=env, pass_fds=(*fds, parent_read)
        )
        self._processes[index] = process
        logger.info("%s worker %d started (pid %d)", self.name, index, process.pid)

    def _watch(self, env: dict[str, str], parent_read: int) -> int:
        while self._stop_signal is None:
            time.sleep(POLL_S)
            for index, process in enumerate(self._processes):
                code = process.poll() if process is not None else None
                if process is None or code is None:
                    continue
                mark_process_dead(process.pid, str(self.metrics_dir))  # type: ignore[no-untyped-call]
                if code in START_FAILURES:
                    logger.error("%s worker %d could not start (exit %d): stopping", self.name, index, code)
                    return code
                if not self._may_restart():
                    logger.error(
                        "%s worker %d died (%s), more than %d deaths within %.0f s: stopping",
                        self.name,
                        index,
                        describe_exit(code),
                        MAX_RESTARTS,
                        RESTART_WINDOW_S,
                    )
                    return 1
                logger.error("%s worker %d died (%s): starting a new one", self.name, index, describe_exit(code))
                self._start(index, env, parent_read)
        logger.info("%s: stopping %d %s workers", signal.Signals(self._stop_signal).name, self.count, self.name)
        return 0

    def _may_restart(self) -> bool:
        now = time.monotonic()
        while self._restarts and now - self._restarts[0] > RESTART_WINDOW_S:
            self._restarts.popleft()
        if len(self._restarts) >= MAX_RESTARTS:
            return False
        self._restarts.append(now)
        return True

    def _stop(self) -> None:
        running = [p for p in self._processes if p is not None and p.poll() is None]
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
        for pid in self.pids():
            mark_process_dead(pid, str(self.metrics_dir))  # type: ignore[no-untyped-call]


def metrics_dir(configured: str | None) -> tuple[Path, bool]:
    """The metrics directory, emptied of an earlier run's files; whether it is ours to remove at exit.

    prometheus_client adds up every file it finds there, so a previous run's counts must go.
    """
    if not configured:
        return Path(tempfile.mkdtemp(prefix="webhooks-metrics-")), True
    path = Path(configured)
    path.mkdir(parents=True, exist_ok=True)
    for stale in path.glob("*.db"):
        stale.unlink()
    return path, False


def parent_fd(args: Sequence[str]) -> int | None:
    """P of a `--parent-fd=P` argument, if there is one."""
    for arg in args:
        name, _, value = arg.partition("=")
        if name == "--parent-fd" and value.isdigit():
            return int(value)
    return None


def orphaned(fd: int) -> bool:
    """Whether the supervisor is gone: its pipe is readable only at end-of-file (nothing is ever written)."""
    return not os.read(fd, 1)


def describe_exit(code: int) -> str:
    """`exit 1`, or the signal's name for a process a signal ended (Popen reports it negated)."""
    if code < 0:
        try:
            return f"killed by {signal.Signals(-code).name}"
        except ValueError:
            return f"killed by signal {-code}"
    return f"exit {code}"
