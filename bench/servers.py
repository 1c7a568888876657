"""Processes the benchmark starts: the receiver, the two baselines and a consumer worker, on loopback."""

from __future__ import annotations

import os
import resource
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


@dataclass
class Server:
    """A started process and the port it serves on."""

    name: str
    process: subprocess.Popen[bytes]
    port: int

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def peak_rss_mb(self) -> float:
        """The peak resident memory so far (VmHWM) of its largest process (a worker, when it has some), MiB."""
        return max(peak_rss_mb(pid) for pid in process_tree(self.process.pid))

    def cpu_s(self) -> float:
        """CPU-seconds (user and system, every thread) its processes have used so far."""
        return sum(cpu_s(pid) for pid in process_tree(self.process.pid))

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmHWM for pid {pid}")


def process_tree(pid: int) -> list[int]:
    """The process and its descendants (a receiver's supervisor and its workers)."""
    children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    return [pid, *(descendant for child in children for descendant in process_tree(int(child)))]


def cpu_s(pid: int) -> float:
    # /proc/<pid>/stat fields 14 and 15 (utime, stime) in clock ticks; the name (field 2) may hold spaces.
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def children_cpu_s() -> float:
    """CPU-seconds (user and system) this process's finished children have used so far: a load generator's."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def listening_pid(port: int) -> int | None:
    """The process listening on this TCP port of this machine, or None: a server the bench did not start
    (the Kafka broker), so that what it spends during a run can be counted too."""
    sockets = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            # local address (hex host:port), state (0A: listening), inode
            if fields[3] == "0A" and int(fields[1].rsplit(":", 1)[1], 16) == port:
                sockets.add(f"socket:[{fields[9]}]")
    for proc in Path("/proc").iterdir():
        if not (sockets and proc.name.isdigit()):
            continue
        try:
            if any(os.readlink(fd) in sockets for fd in (proc / "fd").iterdir()):
                return int(proc.name)
        except OSError:  # gone meanwhile, or not ours to read
            continue
    return None


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for_port(port: int, process: subprocess.Popen[bytes], log: Path, timeout_s: float = 60.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"exited with {process.returncode} while starting; see {log}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"port {port} did not open within {timeout_s:.0f}s; see {log}")


def start(name: str, argv: list[str], env: Mapping[str, str], port: int, logs: Path, cwd: Path = ROOT) -> Server:
    """Start a process in `cwd` with this environment plus `env`, less any inherited source secret."""
    log = logs / f"{name}.log"
    inherited = {key: value for key, value in os.environ.items() if not key.startswith("WEBHOOK_")}
    with log.open("wb") as out:
        process = subprocess.Popen(
            argv, env={**inherited, **env}, cwd=cwd, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL
        )
    wait_for_port(port, process, log)
    return Server(name, process, port)


def uvicorn_app(name: str, app: str, env: Mapping[str, str], logs: Path) -> Server:
    """A baseline ASGI app under one uvicorn worker, with the same loop and parser as the receiver."""
    port = free_port()
    argv = [
        sys.executable,
        "-m",
        "uvicorn",
        app,
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--loop",
        "uvloop",
        "--http",
        "httptools",
        "--no-access-log",
        "--no-proxy-headers",
        "--log-level",
        "warning",
    ]
    return start(name, argv, env, port, logs)


def receiver(name: str, env: Mapping[str, str], logs: Path, workers: int = 1) -> Server:
    """`python -m receiver` with RECEIVER_WORKERS=`workers`, exactly as it is deployed, once it is ready."""
    port = free_port()
    env = {**env, "RECEIVER_PORT": str(port), "RECEIVER_WORKERS": str(workers)}
    server = start(name, [sys.executable, "-m", "receiver"], env, port, logs)
    wait_ready(server)
    return server


# Each /readyz is a new connection, which the kernel gives to any of the workers: this many in a row
# answered 200 means, all but certainly, that every worker is connected.
_READY_IN_A_ROW = 12


def wait_ready(server: Server, timeout_s: float = 60.0) -> None:
    import urllib.request

    deadline = time.monotonic() + timeout_s
    in_a_row = 0
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"{server.url}/readyz", timeout=2) as response:  # noqa: S310 (loopback)
                in_a_row = in_a_row + 1 if response.status == 200 else 0
        except OSError:
            in_a_row = 0
        if in_a_row >= _READY_IN_A_ROW:
            return
        time.sleep(0.05 if in_a_row else 0.2)
    raise RuntimeError(f"{server.name} not ready within {timeout_s:.0f}s")
