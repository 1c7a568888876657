"""`python -m bench.sources` (also a stage of `make bench`): the receiver with 1 and with 10,000 sources.

Two receivers (one process each) read run-time registries of their own: one holds a single GitHub source,
the other 10,000 sources of several providers and tenants, the measured one among them. Measured, on this
machine against the real Kafka:

- start-up: from starting the process to `/readyz` answering 200 (the whole registry read), and the
  registry's own share of it (the receiver's log line);
- memory: resident set of each once ready; the difference over the 9,999 extra sources is the memory per source;
- req/s: wrk against the one source of each, the same pre-signed GitHub requests, alternating between the two
  receivers round after round (a shared machine drifts; side by side, both drift alike). The figure is the
  ratio of the medians: near 1.0 means the lookup does not depend on the number of sources;
- propagation: sources added to the 10,000, and the time from the command's write to the receiver's
  `webhooks_registry_position` passing it.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import os
import re
import statistics
import sys
import tempfile
import time
import urllib.request
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson

from bench import load, servers, topics
from bench.corpus import BENCH_SECRET, github_samples, mean_size, write_corpus
from receiver.registry import log
from receiver.registry.definition import SealedSecret, SourceDefinition
from receiver.registry.keyring import Keyring
from receiver.settings import ReceiverSettings

KAFKA = os.environ.get("KAFKA_BOOTSTRAP_SERVERS", "localhost:9092")
MANY = 10_000
CONNECTIONS = 64
TARGET = "src-bench"
# Providers of the other sources: schemes are shared between the sources of a provider, so several are used.
PROVIDERS = ("github", "stripe", "hmac", "shopify", "slack")
STRIPE_SECRET = b"whsec_" + base64.b64encode(b"bench-stripe-secret")
_READ_LINE = re.compile(r"source registry \S+ read: (\d+) sources served, in ([0-9.]+) s")


def definitions(count: int, keyring: Keyring, events_topic: str) -> list[tuple[str, bytes | None]]:
    """`count` sources: the measured GitHub one and `count - 1` others (secrets sealed like any other)."""
    records: list[tuple[str, bytes | None]] = []
    for n in range(count):
        if n == count // 2:
            records.append(record(TARGET, "github", "tenant-bench", BENCH_SECRET, keyring, events_topic))
            continue
        provider = PROVIDERS[n % len(PROVIDERS)]
        secret = STRIPE_SECRET if provider == "stripe" else os.urandom(24).hex().encode()
        records.append(record(f"src-{n:05d}", provider, f"tenant-{n % 2000:04d}", secret, keyring, events_topic))
    return records


def record(source: str, provider: str, tenant: str, secret: bytes, keyring: Keyring, topic: str) -> tuple[str, bytes]:
    now = datetime.now(UTC)
    definition = SourceDefinition(
        id=source,
        tenant=tenant,
        provider=provider,
        topic=topic,
        secrets=(SealedSecret(sealed=keyring.seal(secret, source)),),
        created_at=now,
        updated_at=now,
    )
    return source, definition.to_bytes()


def _settings(topic: str) -> ReceiverSettings:
    return ReceiverSettings(kafka_bootstrap_servers=KAFKA, registry_topic=topic)


def rss_mb(server: servers.Server) -> float:
    for line in Path(f"/proc/{server.process.pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS")


def position(url: str) -> float:
    with urllib.request.urlopen(f"{url}/metrics", timeout=5) as response:  # noqa: S310 (loopback)
        text = response.read().decode()
    match = re.search(r"^webhooks_registry_position (\S+)$", text, flags=re.MULTILINE)
    return float(match[1]) if match else -1.0


async def measure(seconds: int, rounds: int, scratch: Path, logs: Path) -> dict[str, Any]:
    """Run the comparison; the figures as a JSON-ready dict."""
    run_id = uuid.uuid4().hex[:8]
    key = os.urandom(32)
    keyring = Keyring([key])
    events_topic = f"bench.{run_id}.sources-events"
    await topics.create_topic(KAFKA, events_topic)
    registries = {1: f"bench.{run_id}.sources-1", MANY: f"bench.{run_id}.sources-{MANY}"}
    written_s: dict[int, float] = {}
    for count, topic in registries.items():
        settings = _settings(topic)
        started = time.monotonic()
        log.ensure_topic(settings)
        log.write(settings, definitions(count, keyring, events_topic))
        written_s[count] = time.monotonic() - started
        print(f"bench.sources: {count} sources written in {written_s[count]:.1f}s", file=sys.stderr)

    corpus = write_corpus(scratch / "github.tsv", github_samples())
    body_bytes = mean_size(github_samples())
    started_servers: dict[int, servers.Server] = {}
    startup: dict[int, dict[str, float]] = {}
    try:
        for count, topic in registries.items():
            env = {
                "KAFKA_BOOTSTRAP_SERVERS": KAFKA,
                "WEBHOOK_MASTER_KEYS": base64.b64encode(key).decode(),
                "WEBHOOK_REGISTRY_TOPIC": topic,
                "LOG_LEVEL": "INFO",
                "LOG_FORMAT": "text",
            }
            began = time.monotonic()
            server = servers.receiver(f"sources-{count}", env, logs)
            ready_s = time.monotonic() - began
            started_servers[count] = server
            served, read_s = _read_line(logs / f"sources-{count}.log")
            startup[count] = {"ready_s": round(ready_s, 2), "registry_read_s": read_s, "served": served}
            print(f"bench.sources: {count} sources: ready in {ready_s:.1f}s (registry {read_s}s)", file=sys.stderr)
        rss = {count: rss_mb(server) for count, server in started_servers.items()}

        for server in started_servers.values():  # warm-up, not recorded
            _run(server, corpus, 2, scratch, body_bytes)
        rates: dict[int, list[float]] = {count: [] for count in started_servers}
        for number in range(rounds):
            order = list(started_servers.items())
            for count, server in order if number % 2 == 0 else reversed(order):
                result = _run(server, corpus, seconds, scratch, body_bytes)
                rates[count].append(result.accepted_per_s)
                print(
                    f"bench.sources: round {number} {count:>6} sources {result.accepted_per_s:8.0f} req/s",
                    file=sys.stderr,
                )

        propagation = _propagation(started_servers[MANY], registries[MANY], keyring, events_topic)
    finally:
        for server in started_servers.values():
            server.stop()
        await topics.delete_topics(KAFKA, events_topic, *registries.values())
    medians = {count: statistics.median(values) for count, values in rates.items()}
    return {
        "sources": MANY,
        "connections": CONNECTIONS,
        "seconds": seconds,
        "rounds": rounds,
        "req_per_s": {str(count): [round(v) for v in values] for count, values in rates.items()},
        "median_req_per_s": {str(count): round(value) for count, value in medians.items()},
        "ratio_many_to_one": round(medians[MANY] / medians[1], 3),
        "round_ratios": [round(m / o, 3) for m, o in zip(rates[MANY], rates[1], strict=True)],
        "startup": {str(count): value for count, value in startup.items()},
        "rss_mb": {str(count): round(value, 1) for count, value in rss.items()},
        "bytes_per_source": round((rss[MANY] - rss[1]) * 1_048_576 / (MANY - 1)),
        "registry_write_s": {str(count): round(value, 2) for count, value in written_s.items()},
        "propagation_s": propagation,
    }


def _run(server: servers.Server, corpus: Path, seconds: int, scratch: Path, body_bytes: float) -> load.LoadResult:
    return load.wrk(
        server.name,
        f"{server.url}/webhooks/{TARGET}",
        corpus,
        connections=CONNECTIONS,
        seconds=seconds,
        ids_dir=scratch / server.name,
        body_bytes=body_bytes,
    )


def _read_line(path: Path) -> tuple[int, float]:
    match = _READ_LINE.search(path.read_text())
    if match is None:
        raise RuntimeError(f"no 'source registry read' line in {path}")
    return int(match[1]), float(match[2])


def _propagation(server: servers.Server, topic: str, keyring: Keyring, events_topic: str) -> list[float]:
    """Seconds from each added source's acknowledged write to the receiver serving it (5 additions)."""
    settings = _settings(topic)
    out = []
    for n in range(5):
        before = position(server.url)
        log.write(settings, [record(f"src-added-{n}", "github", "tenant-added", BENCH_SECRET, keyring, events_topic)])
        written = time.monotonic()
        while position(server.url) < before + 1:
            if time.monotonic() - written > 30:
                raise RuntimeError("an added source was not applied within 30 s")
            time.sleep(0.005)
        out.append(round(time.monotonic() - written, 3))
    return out


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.sources", description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=5, help="length of each load run (default 5)")
    parser.add_argument("--rounds", type=int, default=6, help="runs per receiver, alternating (default 6)")
    parser.add_argument("--out", type=Path, help="write the figures to this JSON file as well")
    args = parser.parse_args()
    load.require_tools()
    with tempfile.TemporaryDirectory(prefix="bench-sources-") as scratch_dir:
        scratch = Path(scratch_dir)
        logs = scratch / "logs"
        logs.mkdir()
        figures = asyncio.run(measure(args.seconds, args.rounds, scratch, logs))
    text = orjson.dumps(figures, option=orjson.OPT_INDENT_2).decode()
    if args.out is not None:
        args.out.write_text(text + "\n")
    print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
