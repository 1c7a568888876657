"""`RECEIVER_WORKERS=N`: N receiver processes on one port, started, watched and stopped together.

    python -m receiver                      the supervisor: no app, no Kafka client
    ├── binds the port: one listening socket per worker with SO_REUSEPORT (the kernel spreads new
    │   connections over them), or one shared socket where the platform has no SO_REUSEPORT
    └── python -m receiver worker --listen-fd=F --parent-fd=P      N times (supervision.group)

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
from collections.abc import Sequence
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
        command: how to start a worker; `--listen-fd=F --parent-fd=P` are added.
    """

    settings: ReceiverSettings
    env: dict[str, str] = field(default_factory=lambda: dict(os.environ))
    command: Sequence[str] = (sys.executable, "-m", "receiver", "worker")

    def run(self) -> int:
        """Serve until stopped; the exit code (0 after SIGTERM or SIGINT)."""
        host, port = self.settings.host, self.settings.port
        try:
            sockets = listen(host, port, self.settings.workers)
        except OSError as exc:
            logger.error("can't listen on %s:%d: %s", host, port, exc.strerror)
            return 1
        directory, owned = metrics_dir(self.env.get(METRICS_DIR_ENV))

        def command(index: int) -> tuple[Sequence[str], Sequence[int]]:
            fd = sockets[index % len(sockets)].fileno()
            return [*self.command, f"--listen-fd={fd}"], [fd]

        port = sockets[0].getsockname()[1]
        logger.info("serving %s:%d with %d workers (metrics: %s)", host, port, self.settings.workers, directory)
        try:
            return WorkerGroup("receiver", self.settings.workers, command, self.env, directory).run()
        finally:
            for sock in sockets:
                sock.close()
            if owned:
                shutil.rmtree(directory, ignore_errors=True)


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
