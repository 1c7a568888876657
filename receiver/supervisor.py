"""`RECEIVER_WORKERS=N`: N receiver processes on one port, started, watched and stopped together.

    python -m receiver                      the supervisor: no app, no Kafka client
    ├── binds the port: one listening socket per worker with SO_REUSEPORT (the kernel spreads new
    │   connections over them), or one shared socket where the platform has no SO_REUSEPORT
    └── python -m receiver worker --listen-fd=F [--cpu=C] --parent-fd=P      N times (supervision.group)

With as many workers as CPUs the process may run on (`RECEIVER_PIN_WORKERS=true`; off by default), worker i
runs on the i-th of them only (`--cpu=C`): its event loop and its librdkafka threads share that CPU, so
handing a record over and taking its report back wake a thread on the same CPU, not one across (two
workers on two CPUs: ahead on a busy machine, behind at 64 and 128 connections on a quiet one,
docs/performance.md).
With fewer workers than CPUs nothing is pinned: the CPUs left over are other work's to share, and a
container's CPU quota is no set of CPUs to pin to.

Every worker's `/metrics` adds up the counters of all of them (prometheus_client's multiprocess mode), so
any one scrape reads the whole receiver. A replaced worker inherits the same socket, which stays open in
the supervisor: connections the kernel gave it while it was down wait for the new one instead of being
refused.
"""

from __future__ import annotations

import logging
import os
import shutil
import socket
import sys
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field

from receiver.settings import ReceiverSettings
from supervision.group import METRICS_DIR_ENV, WorkerGroup, metrics_dir

logger = logging.getLogger(__name__)

# uvicorn's default listen backlog.
BACKLOG = 2048


@dataclass
class Supervisor:
    """Runs `settings.workers` receiver processes until a signal, or until they can't be kept running.

    Args:
        settings: the receiver's settings; `host`, `port` and `workers` are used here, the workers read
            the rest from the environment they inherit.
        env: the workers' environment (default: this process's).
        command: how to start a worker; `--listen-fd=F [--cpu=C] --parent-fd=P` are added.
        cpus: the CPUs the workers may run on (default: this process's affinity set).
    """

    settings: ReceiverSettings
    env: dict[str, str] = field(default_factory=lambda: dict(os.environ))
    command: Sequence[str] = (sys.executable, "-m", "receiver", "worker")
    cpus: Collection[int] | None = None

    def run(self) -> int:
        """Serve until stopped; the exit code (0 after SIGTERM or SIGINT)."""
        host, port = self.settings.host, self.settings.port
        try:
            sockets = listen(host, port, self.settings.workers)
        except OSError as exc:
            logger.error("can't listen on %s:%d: %s", host, port, exc.strerror)
            return 1
        directory, owned = metrics_dir(self.env.get(METRICS_DIR_ENV))

        cpus = worker_cpus(self.settings.workers, self.settings.pin_workers, self.cpus)

        def command(index: int) -> tuple[Sequence[str], Sequence[int]]:
            fd = sockets[index % len(sockets)].fileno()
            pinned = [] if cpus[index] is None else [f"--cpu={cpus[index]}"]
            return [*self.command, f"--listen-fd={fd}", *pinned], [fd]

        port = sockets[0].getsockname()[1]
        logger.info("serving %s:%d with %d workers (metrics: %s)", host, port, self.settings.workers, directory)
        try:
            return WorkerGroup("receiver", self.settings.workers, command, self.env, directory).run()
        finally:
            for sock in sockets:
                sock.close()
            if owned:
                shutil.rmtree(directory, ignore_errors=True)


def worker_cpus(workers: int, pin: bool, available: Collection[int] | None = None) -> list[int | None]:
    """The CPU each worker is pinned to, by index: one each when the workers are as many as the CPUs the
    process may run on (`available`, default its affinity set), else None for all (nothing pinned)."""
    if available is None:
        available = os.sched_getaffinity(0) if hasattr(os, "sched_getaffinity") else ()
    if not pin or workers < 2 or len(available) != workers:
        return [None] * workers
    pinned: list[int | None] = [*sorted(available)]
    return pinned


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
