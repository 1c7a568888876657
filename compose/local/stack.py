"""The local stack without Docker: a real Kafka broker (KRaft, from Maven Central jars) and a real Redis.

Standard library only: it runs before the virtualenv exists. Used by `make up`, `make down`, `make run`
and the test session (which imports `Broker` to start extra brokers of its own).

    python3 compose/local/stack.py up      # start what is not running; reuse what is
    python3 compose/local/stack.py down    # stop only what `up` started
    python3 compose/local/stack.py status

What a fresh machine lacks (a Java runtime, the broker's jars, `redis-server`) is provided by `provision.py`.
"""

from __future__ import annotations

import argparse
import base64
import os
import shutil
import signal
import socket
import struct
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import IO
from urllib.parse import urlsplit

sys.path.insert(0, str(Path(__file__).resolve().parent))
import provision
from provision import StackError

__all__ = ["Broker", "RedisServer", "StackError", "cluster", "configured", "down", "kafka_cluster_id", "up"]

ROOT = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent
CACHE = ROOT / ".cache"
RUN = CACHE / "run"

DEFAULT_BOOTSTRAP = "localhost:9092"
DEFAULT_REDIS_URL = "redis://localhost:6379/0"
# A small heap: the broker shares a 2-core machine with the receiver, the consumers and the tests.
KAFKA_HEAP = "-Xms256m -Xmx768m"
KAFKA_START_TIMEOUT_S = 90.0
REDIS_START_TIMEOUT_S = 15.0
# Linux hands outgoing connections local ports from here up (`net.ipv4.ip_local_port_range`): every fixed
# port below lies under it, so no client connection can be holding one when its server starts.
EPHEMERAL_PORTS_START = 32768
# `make redis-cluster-up`: three masters and a replica each, (client port, cluster bus port).
REDIS_CLUSTER_PORTS = [(17001 + n, 27001 + n) for n in range(6)]


# Processes this interpreter started, kept so they can be reaped (and Popen doesn't warn when collected).
_CHILDREN: dict[int, subprocess.Popen[bytes]] = {}


def log(message: str) -> None:
    print(f"stack: {message}", file=sys.stderr, flush=True)


# ---------------------------------------------------------------------------------------------- probes


def kafka_answers(host: str, port: int, timeout_s: float = 1.0) -> bool:
    """True when a Kafka broker answers an ApiVersions request (not merely an open port)."""
    client_id = b"stack-probe"
    # ApiVersions v0: api_key 18, version 0, correlation id 1, client id; size-prefixed.
    body = struct.pack(">hhih", 18, 0, 1, len(client_id)) + client_id
    try:
        with socket.create_connection((host, port), timeout=timeout_s) as sock:
            sock.sendall(struct.pack(">i", len(body)) + body)
            header = _recv_exactly(sock, 4)
            (size,) = struct.unpack(">i", header)
            reply = _recv_exactly(sock, size)
    except OSError:
        return False
    correlation_id, error_code = struct.unpack(">ih", reply[:6])
    return bool(correlation_id == 1 and error_code == 0)


def coordinator_ready(host: str, port: int, group: str = "stack-probe", timeout_s: float = 2.0) -> bool:
    """True when the broker names a ready coordinator for `group` (FindCoordinator v1, error code 0).

    A fresh broker creates its offsets topic on the first such request and answers "not available" until
    the topic's partitions are led and loaded.
    """
    client_id, key = b"stack-probe", group.encode()
    # api_key 10, version 1, correlation id 2, client id; then the key and key type 0 (a group).
    body = struct.pack(">hhih", 10, 1, 2, len(client_id)) + client_id + struct.pack(">h", len(key)) + key + b"\0"
    try:
        with socket.create_connection((host, port), timeout=timeout_s) as sock:
            sock.sendall(struct.pack(">i", len(body)) + body)
            (size,) = struct.unpack(">i", _recv_exactly(sock, 4))
            reply = _recv_exactly(sock, size)
    except OSError:
        return False
    # correlation id, throttle time, error code
    correlation_id, _throttle_ms, error_code = struct.unpack(">iih", reply[:10])
    return bool(correlation_id == 2 and error_code == 0)


def redis_answers(host: str, port: int, timeout_s: float = 1.0) -> bool:
    """True when a Redis server answers PING."""
    try:
        with socket.create_connection((host, port), timeout=timeout_s) as sock:
            sock.sendall(b"PING\r\n")
            return sock.recv(64).startswith((b"+PONG", b"-NOAUTH"))
    except OSError:
        return False


def _recv_exactly(sock: socket.socket, size: int) -> bytes:
    chunks = bytearray()
    while len(chunks) < size:
        chunk = sock.recv(size - len(chunks))
        if not chunk:
            raise ConnectionError("closed")
        chunks += chunk
    return bytes(chunks)


def _wait(check: object, what: str, timeout_s: float, proc: subprocess.Popen[bytes], log_file: Path) -> None:
    assert callable(check)
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if check():
            return
        if proc.poll() is not None:
            raise StackError(f"{what} exited with code {proc.returncode} while starting; see {log_file}")
        time.sleep(0.2)
    raise StackError(f"{what} did not answer within {timeout_s:.0f}s; see {log_file}")


def _spawn(argv: list[str], pid_file: Path, output: IO[bytes] | int = subprocess.DEVNULL) -> subprocess.Popen[bytes]:
    """Start a server of the stack in a session of its own, its output (stdout and stderr) to `output` and its pid
    in `pid_file`; remembered in `_CHILDREN`."""
    proc = subprocess.Popen(
        argv, stdin=subprocess.DEVNULL, stdout=output, stderr=subprocess.STDOUT, start_new_session=True
    )
    _CHILDREN[proc.pid] = proc
    pid_file.write_text(str(proc.pid))
    return proc


# ---------------------------------------------------------------------------------------------- kafka


@dataclass
class Broker:
    """One KRaft broker (combined broker and controller) in its own data directory: a single node by
    default, or one node of a cluster (`cluster()` builds three).

    Attributes:
        port: the client listener; the controller listens on `controller_port`.
        name: names the data directory and pid file, so several brokers can run side by side.
        node_id, voters, cluster_id, replication: set for a member of a cluster.
        warm_up: also wait until the group coordinator is ready (`make up`, `make run`).
    """

    port: int = 9092
    controller_port: int = 9093
    name: str = "kafka"
    heap: str = KAFKA_HEAP
    extra_properties: tuple[str, ...] = ()
    node_id: int = 1
    voters: str = ""
    cluster_id: str = ""
    replication: int = 1
    # Wait for the group coordinator too (the offsets topic's creation): for `make up` and `make run`.
    warm_up: bool = False

    @property
    def home(self) -> Path:
        return CACHE / "kafka" / self.name

    @property
    def pid_file(self) -> Path:
        return RUN / f"{self.name}.pid"

    @property
    def bootstrap(self) -> str:
        return f"localhost:{self.port}"

    def answers(self) -> bool:
        return kafka_answers("127.0.0.1", self.port)

    def properties(self) -> str:
        lines = [
            "process.roles=broker,controller",
            f"node.id={self.node_id}",
            f"controller.quorum.voters={self.voters or f'1@localhost:{self.controller_port}'}",
            f"listeners=PLAINTEXT://localhost:{self.port},CONTROLLER://localhost:{self.controller_port}",
            f"advertised.listeners=PLAINTEXT://localhost:{self.port}",
            "controller.listener.names=CONTROLLER",
            "listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
            "inter.broker.listener.name=PLAINTEXT",
            f"log.dirs={self.home / 'data'}",
            "num.partitions=6",
            # One node: internal topics can only have one replica. A cluster: every topic on 3, 2 in sync.
            f"offsets.topic.replication.factor={self.replication}",
            f"transaction.state.log.replication.factor={self.replication}",
            f"transaction.state.log.min.isr={min(2, self.replication)}",
            f"default.replication.factor={self.replication}",
            f"min.insync.replicas={min(2, self.replication)}",
            # Tests start and stop groups often; don't wait 3 s for more members to join.
            "group.initial.rebalance.delay.ms=0",
            # Topics are created on purpose, with their partitions, by the services.
            "auto.create.topics.enable=false",
            # The log cleaner's offset map lives on the heap, whole, from the first log on. Kafka's 128 MiB is
            # half of KAFKA_HEAP's start: G1 then marks concurrently every few seconds under load, each cycle
            # with a remark pause of tens of ms that produce requests wait through (docs/performance.md).
            # 16 MiB still dedupes ~600,000 keys a pass, plenty for the compacted topics of a local stack.
            f"log.cleaner.dedupe.buffer.size={16 * 1_048_576}",
            *self.extra_properties,
        ]
        return "\n".join(lines) + "\n"

    def start(self) -> bool:
        """Start the broker unless one already answers on the port; True when this call started it."""
        if self.answers():
            return False
        proc, log_file = self.launch()
        self.wait(proc, log_file)
        return True

    def wait(self, proc: subprocess.Popen[bytes], log_file: Path) -> None:
        started = time.monotonic()
        _wait(self.answers, f"kafka on port {self.port}", KAFKA_START_TIMEOUT_S, proc, log_file)
        if self.warm_up:
            # Consumer groups find their coordinator at once, instead of retrying through its creation.
            ready = partial(coordinator_ready, "127.0.0.1", self.port)
            _wait(ready, f"kafka's group coordinator on port {self.port}", KAFKA_START_TIMEOUT_S, proc, log_file)
        log(f"kafka {self.name} answers on {self.bootstrap} after {time.monotonic() - started:.1f}s")

    def launch(self) -> tuple[subprocess.Popen[bytes], Path]:
        """Format (once) and start the broker without waiting for it (a cluster member can't answer alone)."""
        java = provision.java(log)
        jars = provision.fetch_jars(log)
        self.home.mkdir(parents=True, exist_ok=True)
        RUN.mkdir(parents=True, exist_ok=True)
        config = self.home / "server.properties"
        config.write_text(self.properties())
        classpath = f"{jars}/*"
        java_logging = [
            f"-Dlog4j2.configurationFile={HERE / 'log4j2.properties'}",
            f"-Dkafka.logs.dir={self.home / 'logs'}",
        ]
        cluster_id_file = self.home / "cluster.id"
        # An id starting with `-` (from an older stack.py) never formatted: replace it.
        if not cluster_id_file.exists() or cluster_id_file.read_text().startswith("-"):
            cluster_id_file.write_text(self.cluster_id or kafka_cluster_id())
        format_cmd = [
            java,
            "-cp",
            classpath,
            *java_logging,
            "kafka.tools.StorageTool",
            "format",
            "-t",
            cluster_id_file.read_text().strip(),
            "-c",
            str(config),
            "--ignore-formatted",
        ]
        formatted = subprocess.run(format_cmd, capture_output=True, text=True, check=False)
        if formatted.returncode != 0:
            raise StackError(f"kafka storage format failed: {formatted.stderr[-2000:] or formatted.stdout[-2000:]}")
        log_file = self.home / "stdout.log"
        with log_file.open("ab") as out:
            argv = [
                java,
                *self.heap.split(),
                "-XX:+UseG1GC",
                "-cp",
                classpath,
                *java_logging,
                "kafka.Kafka",
                str(config),
            ]
            proc = _spawn(argv, self.pid_file, out)
        return proc, log_file

    def stop(self, *, kill: bool = False) -> bool:
        """Stop the broker this stack started (SIGTERM, or SIGKILL with `kill`); True when one was running."""
        return _stop_pid_file(self.pid_file, signal.SIGKILL if kill else signal.SIGTERM, 60.0)

    def wipe(self) -> None:
        """Delete the broker's data directory (it must be stopped)."""
        shutil.rmtree(self.home, ignore_errors=True)


def cluster(base_port: int = 19092, name: str = "kafka-cluster", heap: str = "-Xms192m -Xmx384m") -> list[Broker]:
    """Three KRaft brokers on one machine (ports base, base+10, base+20; controllers one above each), every
    topic replicated 3 times with 2 in sync required: losing any one broker loses no acknowledged record."""
    ports = [base_port + 10 * n for n in range(3)]
    voters = ",".join(f"{n + 1}@localhost:{port + 1}" for n, port in enumerate(ports))
    shared_id_file = CACHE / "kafka" / f"{name}.cluster.id"
    shared_id_file.parent.mkdir(parents=True, exist_ok=True)
    if not shared_id_file.exists() or shared_id_file.read_text().startswith("-"):
        shared_id_file.write_text(kafka_cluster_id())
    return [
        Broker(
            port=port,
            controller_port=port + 1,
            name=f"{name}-{n + 1}",
            heap=heap,
            node_id=n + 1,
            voters=voters,
            cluster_id=shared_id_file.read_text().strip(),
            replication=3,
        )
        for n, port in enumerate(ports)
    ]


def start_cluster(brokers: list[Broker]) -> None:
    """Start every broker, then wait for each: none answers until a majority of controllers is up."""
    launched = [(broker, broker.launch()) for broker in brokers if not broker.answers()]
    for broker, (proc, log_file) in launched:
        broker.wait(proc, log_file)


# Kafka reserves the all-zero id and the id 1 (the metadata topic's); Uuid.randomUuid() never returns them.
_RESERVED_IDS = (bytes(16), (1).to_bytes(16, "big"))


def kafka_cluster_id(random_bytes: Callable[[int], bytes] = os.urandom) -> str:
    """A cluster id as Kafka's `Uuid.randomUuid()` makes one: 16 random bytes in URL-safe base64 without
    padding, drawn again while reserved or starting with `-` (which `kafka-storage format -t` would read as
    an option: one draw in 64)."""
    while True:
        raw = random_bytes(16)
        cluster_id = base64.urlsafe_b64encode(raw).decode().rstrip("=")
        if raw not in _RESERVED_IDS and not cluster_id.startswith("-"):
            return cluster_id


# ---------------------------------------------------------------------------------------------- redis


class _RedisProcess:
    """A redis-server or sentinel of the stack: its data directory and pid file are named after it."""

    name: str

    @property
    def home(self) -> Path:
        return CACHE / self.name

    @property
    def pid_file(self) -> Path:
        return RUN / f"{self.name}.pid"


@dataclass
class RedisServer(_RedisProcess):
    """A redis-server on loopback with an append-only file, so a restart keeps the claims (unless not `persist`)."""

    port: int = 6379
    name: str = "redis"
    persist: bool = True
    # A node of a Redis Cluster (`redis_cluster()`) has a cluster bus port and a node timeout.
    cluster_bus_port: int | None = None
    cluster_node_timeout_ms: int = 2000
    # A replica of the Redis on this loopback port (a Sentinel setup: `RedisSentinel`).
    replica_of: int | None = None

    def answers(self) -> bool:
        return redis_answers("127.0.0.1", self.port)

    def start(self) -> bool:
        if self.answers():
            return False
        binary = provision.redis_server(log)
        self.home.mkdir(parents=True, exist_ok=True)
        RUN.mkdir(parents=True, exist_ok=True)
        log_file = self.home / "redis.log"
        proc = _spawn(
            [
                binary,
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--dir",
                str(self.home),
                "--appendonly",
                "yes" if self.persist else "no",
                "--appendfsync",
                "everysec",
                "--save",
                "",
                # A replica gets its copy at once: Redis otherwise waits 5 s for more replicas to share a transfer.
                "--repl-diskless-sync-delay",
                "0",
                "--logfile",
                str(log_file),
                "--daemonize",
                "no",
                *self._cluster_args(),
                *(("--replicaof", "127.0.0.1", str(self.replica_of)) if self.replica_of is not None else ()),
            ],
            self.pid_file,
        )
        _wait(self.answers, f"redis on port {self.port}", REDIS_START_TIMEOUT_S, proc, log_file)
        log(f"redis answers on 127.0.0.1:{self.port}")
        return True

    def stop(self, *, kill: bool = False) -> bool:
        return _stop_pid_file(self.pid_file, signal.SIGKILL if kill else signal.SIGTERM, 20.0)

    def _cluster_args(self) -> list[str]:
        if self.cluster_bus_port is None:
            return []
        return [
            "--cluster-enabled",
            "yes",
            "--cluster-port",
            str(self.cluster_bus_port),
            "--cluster-config-file",
            str(self.home / "nodes.conf"),
            "--cluster-node-timeout",
            str(self.cluster_node_timeout_ms),
        ]


def redis_cluster(
    ports: list[tuple[int, int]], name: str = "redis-cluster", *, node_timeout_ms: int = 2000
) -> list[RedisServer]:
    """The nodes of a Redis Cluster on loopback, one per (client port, cluster bus port), without persistence:
    the first three are masters, the others their replicas (`start_redis_cluster`). A master that stays
    silent for `node_timeout_ms` is failed over to its replica."""
    return [
        RedisServer(
            port=port,
            name=f"{name}-{port}",
            persist=False,
            cluster_bus_port=bus_port,
            cluster_node_timeout_ms=node_timeout_ms,
        )
        for port, bus_port in ports
    ]


def start_redis_cluster(nodes: list[RedisServer], masters: int = 3) -> None:
    """Start the nodes on fresh data directories and join them with `redis-cli --cluster create`: `masters`
    masters sharing the 16384 slots, the other nodes spread over them as replicas. Waits for every node to
    report `cluster_state:ok`."""
    if shutil.which("redis-cli") is None:
        raise StackError("redis-cli not found: apt-get install -y redis-tools")
    if len(nodes) % masters:
        raise StackError(f"{len(nodes)} nodes can't be {masters} masters with the same number of replicas each")
    for node in nodes:
        node.stop(kill=True)
        shutil.rmtree(node.home, ignore_errors=True)
        node.start()
    created = subprocess.run(
        [
            "redis-cli",
            "--cluster",
            "create",
            *(f"127.0.0.1:{node.port}" for node in nodes),
            "--cluster-replicas",
            str(len(nodes) // masters - 1),
            "--cluster-yes",
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    if created.returncode != 0:
        raise StackError(f"redis-cli --cluster create failed: {created.stdout[-2000:]}{created.stderr[-2000:]}")
    deadline = time.monotonic() + REDIS_START_TIMEOUT_S
    for n, node in enumerate(nodes):
        # Every node sees every slot served; every replica has its copy of its master's data.
        while "cluster_state:ok" not in redis_cli(node.port, "CLUSTER", "INFO") or (
            n >= masters and "master_link_status:up" not in redis_cli(node.port, "INFO", "replication")
        ):
            if time.monotonic() > deadline:
                raise StackError(f"the Redis Cluster node on {node.port} is not ready within {REDIS_START_TIMEOUT_S}s")
            time.sleep(0.2)
    log(f"redis cluster of {masters} masters answers on " + ",".join(f"127.0.0.1:{node.port}" for node in nodes))


@dataclass
class RedisSentinel(_RedisProcess):
    """A Redis Sentinel on loopback watching the master on `master_port` as `master_name` (quorum 1): it fails
    the master over to one of its replicas once the master is silent for `down_after_ms`."""

    port: int
    master_port: int
    master_name: str = "mymaster"
    down_after_ms: int = 1000
    name: str = "redis-sentinel"

    def start(self) -> None:
        binary = provision.redis_server(log)
        self.home.mkdir(parents=True, exist_ok=True)
        RUN.mkdir(parents=True, exist_ok=True)
        config = self.home / "sentinel.conf"  # the sentinel rewrites it with what it learns
        config.write_text(
            f"port {self.port}\nbind 127.0.0.1\ndir {self.home}\nlogfile {self.home / 'sentinel.log'}\n"
            f"sentinel monitor {self.master_name} 127.0.0.1 {self.master_port} 1\n"
            f"sentinel down-after-milliseconds {self.master_name} {self.down_after_ms}\n"
            f"sentinel failover-timeout {self.master_name} {max(3000, 3 * self.down_after_ms)}\n"
        )
        proc = _spawn([binary, str(config), "--sentinel"], self.pid_file)
        deadline = time.monotonic() + REDIS_START_TIMEOUT_S
        # Up once it has found the master's replicas (through the master's INFO, within a few seconds).
        while "name" not in redis_cli(self.port, "SENTINEL", "REPLICAS", self.master_name):
            if proc.poll() is not None or time.monotonic() > deadline:
                raise StackError(f"the sentinel on {self.port} did not find {self.master_name}'s replicas")
            time.sleep(0.2)
        log(f"redis sentinel answers on 127.0.0.1:{self.port}, watching {self.master_name}")

    def stop(self) -> bool:
        return _stop_pid_file(self.pid_file, signal.SIGTERM, 20.0)


def redis_cli(port: int, *args: str) -> str:
    """One command to the Redis on loopback `port`, its reply as redis-cli prints it ('' when it's down)."""
    result = subprocess.run(
        ["redis-cli", "-p", str(port), *args], capture_output=True, text=True, timeout=10, check=False
    )
    return result.stdout


# ---------------------------------------------------------------------------------------------- shared


def _stop_pid_file(pid_file: Path, sig: signal.Signals, timeout_s: float) -> bool:
    if not pid_file.exists():
        return False
    pid = int(pid_file.read_text().strip() or 0)
    pid_file.unlink()
    if pid <= 0 or not _alive(pid):
        return False
    os.kill(pid, sig)
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline and _alive(pid):
        time.sleep(0.1)
    if _alive(pid):
        os.kill(pid, signal.SIGKILL)
    child = _CHILDREN.pop(pid, None)
    if child is not None:
        child.wait()
    return True


def _alive(pid: int) -> bool:
    child = _CHILDREN.get(pid)
    if child is not None:
        return child.poll() is None
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    stat = Path(f"/proc/{pid}/stat")
    # A zombie has exited; only its parent hasn't read the status yet.
    return not (stat.exists() and stat.read_text().split(") ", 1)[-1].startswith("Z"))


def _host_port(address: str, default_port: int) -> tuple[str, int]:
    host, _, port = address.rpartition(":")
    return (host or "localhost"), int(port or default_port)


def configured() -> tuple[Broker, RedisServer]:
    """The broker and Redis of KAFKA_BOOTSTRAP_SERVERS and REDIS_URL (first bootstrap server)."""
    bootstrap = os.environ.get("KAFKA_BOOTSTRAP_SERVERS", DEFAULT_BOOTSTRAP).split(",")[0].strip()
    host, port = _host_port(bootstrap, 9092)
    if host not in {"localhost", "127.0.0.1"}:
        raise StackError(f"KAFKA_BOOTSTRAP_SERVERS={bootstrap}: the local stack only runs a broker on localhost")
    redis_port = urlsplit(os.environ.get("REDIS_URL", DEFAULT_REDIS_URL)).port or 6379
    # Servers on other ports keep data directories of their own, beside those of the default ones.
    name = "kafka" if port == 9092 else f"kafka-{port}"
    broker = Broker(port=port, controller_port=port + 1, name=name, warm_up=True)
    return broker, RedisServer(port=redis_port, name="redis" if redis_port == 6379 else f"redis-{redis_port}")


def up() -> list[str]:
    """Start Kafka and Redis unless they answer already; returns the names of what it started."""
    broker, redis = configured()
    started = []
    if redis.start():
        started.append("redis")
    else:
        log(f"reusing the redis on port {redis.port}")
    if broker.start():
        started.append("kafka")
    else:
        log(f"reusing the kafka broker on port {broker.port}")
    return started


def down(names: tuple[str, ...] = ("kafka", "redis")) -> None:
    """Stop what `up` started (by pid file); a server someone else runs is left alone."""
    broker, redis = configured()
    for name, server in (("kafka", broker), ("redis", redis)):
        if name in names:
            log(f"stopped {name}" if server.stop() else f"{name}: nothing of ours running")


def status() -> int:
    broker, redis = configured()
    kafka_ok, redis_ok = broker.answers(), redis.answers()
    print(f"kafka  {'up' if kafka_ok else 'down'}  localhost:{broker.port}")
    print(f"redis  {'up' if redis_ok else 'down'}  127.0.0.1:{redis.port}")
    return 0 if kafka_ok and redis_ok else 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="stack.py", description=__doc__.splitlines()[0])
    parser.add_argument(
        "command",
        choices=[
            *("up", "down", "status", "fetch", "lock", "cluster-up", "cluster-down"),
            *("redis-cluster-up", "redis-cluster-down"),
        ],
    )
    args = parser.parse_args(argv)
    try:
        if args.command == "up":
            up()
        elif args.command == "down":
            down()
        elif args.command == "fetch":
            provision.java(log)
            provision.fetch_jars(log)
        elif args.command == "lock":
            provision.lock(log)
        elif args.command == "cluster-up":
            brokers = cluster()
            start_cluster(brokers)
            log(f"cluster: KAFKA_BOOTSTRAP_SERVERS={','.join(b.bootstrap for b in brokers)} KAFKA_REPLICATION_FACTOR=3")
        elif args.command == "cluster-down":
            for broker in cluster():
                broker.stop()
        elif args.command == "redis-cluster-up":
            start_redis_cluster(redis_cluster(REDIS_CLUSTER_PORTS))
            log(f"redis cluster: REDIS_URL=redis://127.0.0.1:{REDIS_CLUSTER_PORTS[0][0]}/0 REDIS_CLUSTER=true")
        elif args.command == "redis-cluster-down":
            for node in redis_cluster(REDIS_CLUSTER_PORTS):
                node.stop()
                shutil.rmtree(node.home, ignore_errors=True)
        else:
            return status()
    except StackError as exc:
        log(f"error: {exc}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
