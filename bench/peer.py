"""`python -m bench.peer --bridge PATH`: the receiver against Svix Bridge, an open-source Rust peer.

Svix Bridge (`svix-bridge`, built by the operator from its public source: docs/performance.md says how)
receives Svix-signed webhooks and produces them to Kafka, as the receiver does with a `svix` source. Both
run on this machine against the same Kafka, each producing to a topic of its own, and get the same requests:
real GitHub bodies from `tests/samples`, each request signed ahead with its own `svix-id` and a fresh
timestamp (Svix signs the id and the timestamp with the body, so nothing can be signed once for all).

Before measuring, each server must answer a valid request 2xx and a tampered one 4xx. Then wrk drives
every server at 32, 64 and 128 connections, in turn, round after round, the order reversed each round (a
shared machine drifts by the minute; servers measured side by side drift alike). Each run records req/s,
p99 and the CPU-seconds of all the server's processes (every thread) per 1,000 requests; at the end, each
server's peak resident memory and a check that its topic holds at least as many records as it answered 2xx.

Both producers wait for every in-sync replica (`acks=all`): the bridge by librdkafka's default, which it
does not change (nor its 5 ms linger), the receiver always (and with idempotence on top).
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import os
import shutil
import statistics
import sys
import tempfile
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path
from typing import Any

import orjson
from confluent_kafka import Consumer, TopicPartition

from bench import load, servers, topics
from bench.corpus import github_samples, mean_size
from primitives.standardwebhooks import SECRET_PREFIX, signature, signed_headers

KAFKA = os.environ.get("KAFKA_BOOTSTRAP_SERVERS", "localhost:9092")
CONNECTIONS = (32, 64, 128)
# A throwaway Svix endpoint secret, for loopback only: `whsec_` and the base64 of the HMAC key.
SIGNING_KEY = b"bench-peer-signing-key-32-bytes!"
SECRET = SECRET_PREFIX + base64.b64encode(SIGNING_KEY).decode()
# More requests per second than any server here answers: each run gets this many per second signed ahead.
MOST_PER_S = 16_000
BRIDGE = "svix-bridge"
BRIDGE_PATH, RECEIVER_PATH = "/webhook/bench", "/webhooks/peer"
SCRIPT = Path(__file__).resolve().parent / "wrk" / "signed.lua"


def sign(path: Path, bodies: list[bytes], count: int, now_s: float) -> Path:
    """`count` requests signed as Svix signs them, one line each for `bench/wrk/signed.lua`."""
    timestamp = int(now_s)
    prefix = uuid.uuid4().hex[:12]
    with path.open("w") as out:
        for n in range(count):
            msg_id = f"msg_{prefix}{n:08d}"
            body = n % len(bodies)
            out.write(f"{body}\t{msg_id}\t{timestamp}\t{signature(SIGNING_KEY, msg_id, timestamp, bodies[body])}\n")
    return path


def bridge_config(path: Path, port: int, topic: str) -> Path:
    """The bridge's YAML: one receiver verifying Svix signatures, its output the Kafka topic."""
    output = {
        "type": "kafka",
        "kafka_bootstrap_brokers": KAFKA,
        "kafka_topic": topic,
        "kafka_security_protocol": "plaintext",
    }
    verification = {"type": "svix", "endpoint_secret": SECRET}
    config = {
        "log_level": "info",  # its least: no line per request
        "http_listen_address": f"127.0.0.1:{port}",
        "receivers": [
            {
                "name": "bench",
                "input": {"type": "webhook", "path_id": "bench", "verification": verification},
                "output": output,
            }
        ],
    }
    path.write_bytes(orjson.dumps(config))  # YAML reads JSON
    return path


def start_bridge(binary: Path, topic: str, scratch: Path, logs: Path) -> servers.Server:
    port = servers.free_port()
    config = bridge_config(scratch / "svix-bridge.json", port, topic)
    return servers.start(BRIDGE, [str(binary), "--cfg-file", str(config)], {}, port, logs)


def start_receiver(workers: int, topic: str, scratch: Path, logs: Path, linger_ms: int | None) -> servers.Server:
    name = f"receiver-{workers}w"
    sources = scratch / f"{name}-sources.toml"
    sources.write_text(f'[sources.peer]\nprovider = "svix"\ntopic = "{topic}"\n')
    env = {
        "KAFKA_BOOTSTRAP_SERVERS": KAFKA,
        "WEBHOOK_SOURCES_FILE": str(sources),
        "WEBHOOK_SECRET_PEER": SECRET,
        "LOG_LEVEL": "WARNING",
    }
    if linger_ms is not None:
        env["KAFKA_LINGER_MS"] = str(linger_ms)
    return servers.receiver(name, env, logs, workers)


def path_of(server: servers.Server) -> str:
    return BRIDGE_PATH if server.name == BRIDGE else RECEIVER_PATH


def post(url: str, body: bytes, headers: dict[str, str]) -> int:
    request = urllib.request.Request(url, data=body, headers=headers, method="POST")  # noqa: S310 (loopback)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310 (loopback)
            return int(response.status)
    except urllib.error.HTTPError as error:
        return int(error.code)


def check_both_ways(server: servers.Server, body: bytes) -> None:
    """A signed request must be answered 2xx, and the same headers on a body changed by one byte 4xx."""
    msg_id = f"msg_check{uuid.uuid4().hex[:16]}"
    signed = signed_headers([SIGNING_KEY], msg_id, int(time.time()), body, prefix="svix-")
    headers = {"Content-Type": "application/json", **signed}
    url = server.url + path_of(server)
    valid = post(url, body, headers)
    tampered = post(url, body[:-1] + b" }", headers)  # the same JSON, but not the bytes signed
    if not (200 <= valid < 300 and 400 <= tampered < 500):
        raise SystemExit(f"bench.peer: {server.name} answered {valid} when signed, {tampered} when tampered with")
    print(f"bench.peer: {server.name}: signed {valid}, tampered {tampered}", file=sys.stderr)


def record_count(topic: str) -> int:
    """The records on a topic: the sum of its partitions' high watermarks."""
    consumer = Consumer({"bootstrap.servers": KAFKA, "group.id": f"bench-peer-{uuid.uuid4().hex[:8]}"})
    try:
        partitions = consumer.list_topics(topic, timeout=10).topics[topic].partitions
        return sum(consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=10)[1] for p in partitions)
    finally:
        consumer.close()


def broker_pid() -> int | None:
    """The local Kafka broker's process (the first bootstrap server's), whose CPU each run is charged too."""
    host, _, port = KAFKA.split(",")[0].strip().rpartition(":")
    return servers.listening_pid(int(port)) if host in ("localhost", "127.0.0.1", "") else None


def run(
    server: servers.Server,
    files: tuple[Path, Path],
    connections: int,
    seconds: int,
    mean: float,
    broker: int | None = None,
) -> load.LoadResult:
    """One wrk run of the signed requests against a server, charged with the CPU its processes used, and with
    what the broker and wrk used meanwhile."""
    bodies, signed = files
    script_args = [str(bodies), str(signed), str(min(load.WRK_THREADS, connections))]
    broker_before = servers.cpu_s(broker) if broker is not None else 0.0
    client_before = servers.children_cpu_s()
    cpu_before = server.cpu_s()
    result = load.wrk_script(
        server.name,
        server.url + path_of(server),
        SCRIPT,
        script_args,
        connections=connections,
        seconds=seconds,
        body_bytes=mean,
    )
    result.charge(server.cpu_s() - cpu_before)
    broker_cpu = servers.cpu_s(broker) - broker_before if broker is not None else None
    result.charge_others(broker_cpu, servers.children_cpu_s() - client_before)
    return result


async def measure(args: argparse.Namespace, scratch: Path, logs: Path) -> dict[str, Any]:
    """Start the servers, check them, run the rounds; every figure as a JSON-ready dict."""
    run_id = uuid.uuid4().hex[:8]
    bodies = [body for _, body in github_samples()]
    bodies_file = scratch / "bodies.jsonl"
    bodies_file.write_bytes(b"\n".join(bodies) + b"\n")
    names = [BRIDGE, *(f"receiver-{w}w" for w in args.workers)]
    topic_of = {name: f"bench-peer-{run_id}-{name}" for name in names}
    load_average = [os.getloadavg()]
    started: list[servers.Server] = []
    answered = dict.fromkeys(names, 0)
    try:
        for topic in topic_of.values():
            await topics.create_topic(KAFKA, topic)
        try:
            started.append(start_bridge(args.bridge, topic_of[BRIDGE], scratch, logs))
            started.extend(
                start_receiver(w, topic_of[f"receiver-{w}w"], scratch, logs, args.linger_ms) for w in args.workers
            )
            for server in started:
                check_both_ways(server, bodies[0])
                answered[server.name] += 1
            results = rounds(args, started, (bodies, bodies_file), scratch, answered, load_average)
            rss = {server.name: _rss(server) for server in started}
        finally:
            for server in started:
                server.stop()
        kafka = {name: _kafka_check(topic, answered[name]) for name, topic in topic_of.items()}
    finally:
        await topics.delete_topics(KAFKA, *topic_of.values())
    return {
        "run_id": run_id,
        "when": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "cores": os.cpu_count(),
        "load_average_1_5_15": [[round(value, 2) for value in sample] for sample in load_average],
        "corpus": {"bodies": len(bodies), "mean_body_bytes": round(mean_size(github_samples()))},
        "seconds": args.seconds,
        "rounds": args.rounds,
        "linger_ms_receiver": args.linger_ms,
        "runs": [result.as_dict() for result in results],
        "summary": summary(results, names),
        "round_ratios": round_ratios(results, names),
        "peak_rss_mb": rss,
        "kafka": kafka,
    }


def rounds(
    args: argparse.Namespace,
    started: list[servers.Server],
    corpus: tuple[list[bytes], Path],
    scratch: Path,
    answered: dict[str, int],
    load_average: list[tuple[float, float, float]],
) -> list[load.LoadResult]:
    """A warm-up, then every connection count for every server in turn, the order reversed each round."""
    bodies, bodies_file = corpus
    mean = sum(map(len, bodies)) / len(bodies)
    broker = broker_pid()
    for server in started:  # not recorded: connections, the producer's first batches
        signed = sign(scratch / "signed.tsv", bodies, MOST_PER_S * 2, time.time())
        answered[server.name] += run(server, (bodies_file, signed), 32, 2, mean).accepted
    results = []
    for number in range(args.rounds):
        for connections in args.connections:
            # Signed afresh for each connection count (the timestamps must be recent); each server gets the
            # same requests once, into a topic of its own.
            signed = sign(scratch / "signed.tsv", bodies, MOST_PER_S * args.seconds, time.time())
            for server in started if number % 2 == 0 else started[::-1]:
                result = run(server, (bodies_file, signed), connections, args.seconds, mean, broker)
                result.round = number
                results.append(result)
                answered[server.name] += result.accepted
                if result.requests > MOST_PER_S * args.seconds * 0.9:
                    raise SystemExit(f"bench.peer: {server.name} nearly ran out of signed requests (MOST_PER_S)")
                print(
                    f"bench.peer: round {number} {server.name:<12} c={connections:<4} {_line(result)}", file=sys.stderr
                )
        load_average.append(os.getloadavg())
    return results


def summary(results: list[load.LoadResult], names: list[str]) -> dict[str, dict[str, dict[str, float]]]:
    """By connections and server: medians of req/s, p99 and CPU-s per 1,000, and the spread of req/s."""
    out: dict[str, dict[str, dict[str, float]]] = {}
    for connections in sorted({r.connections for r in results}):
        row = {}
        for name in names:
            runs = [r for r in results if r.server == name and r.connections == connections]
            rates = [r.accepted_per_s for r in runs]
            row[name] = {
                "req_per_s": round(statistics.median(rates)),
                "req_per_s_min": round(min(rates)),
                "req_per_s_max": round(max(rates)),
                "p99_ms": round(statistics.median(r.p99_ms for r in runs), 1),
                "cpu_s_per_1k": round(statistics.median(r.cpu_s_per_1k or 0.0 for r in runs), 4),
                "broker_cpu_s_per_1k": round(statistics.median(r.broker_cpu_s_per_1k or 0.0 for r in runs), 4),
                "client_cpu_s_per_1k": round(statistics.median(r.client_cpu_s_per_1k or 0.0 for r in runs), 4),
            }
        out[str(connections)] = row
    return out


def table(figures: dict[str, Any]) -> list[str]:
    """The summary as a Markdown table: median req/s (spread), p99 ms and CPU-s per 1,000 by connections; then
    the CPU-s per 1,000 requests of the broker and of wrk during each server's runs."""
    names = list(figures["peak_rss_mb"])
    lines = ["| connections | " + " | ".join(names) + " |", "| --- |" + " --- |" * len(names)]
    for connections, row in figures["summary"].items():
        cells = [_cell(row[name]) for name in names]
        lines.append(f"| {connections} | " + " | ".join(cells) + " |")
    peaks = " | ".join(
        f"{p['largest_process']:.0f} ({p['all_processes']:.0f})" for p in figures["peak_rss_mb"].values()
    )
    lines.append(f"| peak RSS MiB, largest process (all) | {peaks} |")
    for connections, row in figures["summary"].items():
        others = [f"{row[name]['broker_cpu_s_per_1k']:.3f} + {row[name]['client_cpu_s_per_1k']:.3f}" for name in names]
        lines.append(f"| {connections}: CPU-s/1k of the broker + wrk | " + " | ".join(others) + " |")
    return lines


def _cell(figures: dict[str, float]) -> str:
    rates = f"{figures['req_per_s']:,.0f} ({figures['req_per_s_min']:,.0f}-{figures['req_per_s_max']:,.0f})"
    return f"{rates} / {figures['p99_ms']} / {figures['cpu_s_per_1k']:.3f}"


def round_ratios(results: list[load.LoadResult], names: list[str]) -> dict[str, dict[str, list[float]]]:
    """Each receiver's req/s over the bridge's in the same round and at the same connections."""
    rate = {(r.server, r.connections, r.round): r.accepted_per_s for r in results}
    out: dict[str, dict[str, list[float]]] = {}
    for name in names[1:]:
        out[name] = {
            str(c): [round(rate[name, c, n] / rate[BRIDGE, c, n], 2) for n in sorted({r.round for r in results})]
            for c in sorted({r.connections for r in results})
        }
    return out


def _kafka_check(topic: str, answered: int) -> dict[str, int]:
    records = record_count(topic)
    return {"answered_2xx": answered, "records": records, "missing": max(0, answered - records)}


def _rss(server: servers.Server) -> dict[str, float]:
    peaks = [servers.peak_rss_mb(pid) for pid in servers.process_tree(server.process.pid)]
    return {"largest_process": round(max(peaks), 1), "all_processes": round(sum(peaks), 1)}


def _line(result: load.LoadResult) -> str:
    return (
        f"{result.accepted_per_s:>8.0f} req/s  p99 {result.p99_ms:6.1f} ms  {result.cpu_s_per_1k or 0:.3f} CPU-s/1k"
        f" (broker {result.broker_cpu_s_per_1k or 0:.3f}, wrk {result.client_cpu_s_per_1k or 0:.3f})"
    )


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.peer", description=__doc__.splitlines()[0])
    parser.add_argument("--bridge", type=Path, required=True, help="the svix-bridge binary to measure against")
    parser.add_argument("--seconds", type=int, default=10, help="length of each load run (default 10)")
    parser.add_argument("--rounds", type=int, default=3, help="rounds, the order reversed each round (default 3)")
    parser.add_argument("--connections", type=int, nargs="+", default=list(CONNECTIONS), help="default 32 64 128")
    parser.add_argument("--workers", type=int, nargs="+", default=[2, 1], help="RECEIVER_WORKERS to run (default 2 1)")
    parser.add_argument("--linger-ms", type=int, help="KAFKA_LINGER_MS for the receiver (default: its own default)")
    parser.add_argument("--out", type=Path, help="write the figures to this JSON file as well")
    args = parser.parse_args()
    if not os.access(args.bridge, os.X_OK):
        raise SystemExit(f"bench.peer: {args.bridge} is not an executable (see docs/performance.md to build it)")
    if shutil.which("wrk") is None:
        raise SystemExit("bench.peer: needs wrk (apt-get install -y wrk)")
    with tempfile.TemporaryDirectory(prefix="bench-peer-") as scratch_dir:
        scratch = Path(scratch_dir)
        logs = scratch / "logs"
        logs.mkdir()
        figures = asyncio.run(measure(args, scratch, logs))
    text = orjson.dumps(figures, option=orjson.OPT_INDENT_2).decode()
    if args.out is not None:
        args.out.write_text(text + "\n")
    print(text)
    for line in table(figures):
        print(line)
    missing = sum(check["missing"] for check in figures["kafka"].values())
    return 1 if missing else 0


if __name__ == "__main__":
    raise SystemExit(main())
