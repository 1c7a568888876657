"""`make bench` (`python -m bench`): the receiver and the consumer measured against their baselines.

Everything runs on this machine against the real Kafka and Redis (started by `make up`):

1. Receiver, closed loop (wrk): the ceiling, the seed design, the receiver with one worker and with two
   (`RECEIVER_WORKERS=2`), all running at once and driven in turn with the same pre-signed GitHub requests:
   every connection count, then the next round in another order. A machine shared with other work drifts
   by the minute; servers measured side by side within a round drift together, so the ratios compare
   like with like. Each run also records the CPU-seconds the server's processes used.
2. Body size: the ceiling and both receivers with 1 KiB, 16 KiB and 256 KiB bodies.
3. Receiver, open loop: a fixed rate at half the one-worker receiver's best, latency measured from when
   each request was due; then the ceiling on the same schedule (what the client and the kernel take alone).
4. Nothing lost: every id answered 202 must be a record on the receiver's topic.
5. Consumer (`bench.consumer`): topics of N envelopes (10% redeliveries), one of ~10 KB GitHub bodies and one of
   small ones, each drained by one worker with a no-op handler per batch size and per handler concurrency:
   events/s, the worker's CPU-seconds per 1,000 events and exact counts.
6. Dedup state: 100,000 distinct events and 10,000 redeliveries through the idempotency store on a
   redis-server of its own (`bench.dedup`): bytes of `used_memory` and Redis commands per event.
7. Sources (`bench.sources`): req/s of a receiver serving 1 and one serving 10,000 run-time registry sources,
   alternating, as a ratio; start-up time, memory per source, and how soon an added source is served.

Results: bench/results/latest.json, bench/results/latest.png and the table of docs/performance.md.
`--only receiver` runs stages 1 to 4 alone (and leaves the docs as they are); `--connections 64,128` narrows
the closed-loop runs.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time
import uuid
from dataclasses import asdict
from pathlib import Path
from typing import Any

from bench import consumer as consumer_bench
from bench import load, report, servers, sources, topics
from bench.corpus import BENCH_SECRET, github_samples, mean_size, sized_samples, write_corpus
from bench.dedup import measure_on_own_redis

KAFKA = os.environ.get("KAFKA_BOOTSTRAP_SERVERS", "localhost:9092")
REDIS = os.environ.get("REDIS_URL", "redis://localhost:6379/0").rsplit("/", 1)[0]
# The seed baseline's SET NX keys go to a database of their own, flushed after the run.
SEED_REDIS_DB = 9
CONNECTIONS = (16, 32, 64, 128, 256)
ROUNDS = 3
BODY_SIZES = (1024, 16 * 1024, 256 * 1024)
SIZE_CONNECTIONS = 64
# Consumer runs: every batch size at the default concurrency, then every concurrency at the default batch.
CONSUMER_BATCHES = (100, 500, 2000)
CONSUMER_CONCURRENCIES = (1, 16, 64)
DEFAULT_BATCH, DEFAULT_CONCURRENCY = 500, 16
RECEIVERS = {report.RECEIVER: 1, report.RECEIVER_2W: 2}
# The receivers report their produce requests this often (KAFKA_STATS_INTERVAL_MS), and each run waits a little
# longer than that for the statistics of its last requests before reading them.
STATS_INTERVAL_MS = 500
STATS_WAIT_S = 0.6


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=5, help="length of each load run (default 5)")
    parser.add_argument("--rounds", type=int, default=ROUNDS, help=f"closed-loop rounds (default {ROUNDS})")
    parser.add_argument("--events", type=int, default=50_000, help="events in the consumer's topic (default 50000)")
    parser.add_argument(
        "--quick", action="store_true", help="a smoke run: 5 rounds of 1 s runs at 64 connections, 2000 events"
    )
    parser.add_argument("--only", choices=("receiver",), help="run the receiver stages alone (1 to 4)")
    parser.add_argument(
        "--connections",
        type=lambda text: tuple(int(count) for count in text.split(",")),
        help=f"closed-loop connection counts, comma-separated (default {','.join(map(str, CONNECTIONS))})",
    )
    parser.add_argument("--out", type=Path, default=report.RESULTS, help="results directory")
    parser.add_argument("--no-docs", action="store_true", help="don't rewrite the table of docs/performance.md")
    args = parser.parse_args()
    load.require_tools()
    if args.quick:
        # Short runs, more rounds: a median of five holds up better on a busy machine than one of two.
        args.seconds, args.events, args.rounds = 1, 2000, 5
    results = asyncio.run(run(args))
    # A partial run doesn't replace the whole run's table.
    report.write(results, args.out, page=not args.no_docs and args.only is None)
    for line in report.summary_lines(results):
        print(line)
    return 0 if results["receiver"]["lost"] == 0 and all(r["exact"] for r in results["consumer"]) else 1


async def run(args: argparse.Namespace) -> dict[str, Any]:
    run_id = uuid.uuid4().hex[:8]
    quick = args.quick
    load_at_start = os.getloadavg()[0]
    connections = args.connections or ((64,) if quick else CONNECTIONS)
    with tempfile.TemporaryDirectory(prefix="bench-") as scratch_dir:
        scratch = Path(scratch_dir)
        logs = scratch / "logs"
        logs.mkdir()
        bodies = github_samples()
        corpus = write_corpus(scratch / "github.tsv", bodies)
        body_bytes = mean_size(bodies)
        broker = servers.listening_pid(int(KAFKA.rsplit(":", 1)[1]))
        load.build_loadgen()
        print(f"bench: {len(bodies)} GitHub bodies, mean {body_bytes:.0f} bytes; logs in {logs}", file=sys.stderr)

        seed_env = {"REDIS_URL": f"{REDIS}/{SEED_REDIS_DB}"}
        started = [
            servers.uvicorn_app("ceiling", "bench.baselines.ceiling:app", {}, logs),
            servers.uvicorn_app("seed", "bench.baselines.seed:app", seed_env, logs),
        ]
        topic_of = {name: f"bench.{run_id}.{name}" for name in RECEIVERS}
        try:
            for name, workers in RECEIVERS.items():
                started.append(_start_receiver(name, topic_of[name], logs, workers))
            by_name = {server.name: server for server in started}
            closed = _rounds(started, corpus, connections, args.rounds, args.seconds, scratch, body_bytes, broker)
            # Peak memory with the GitHub corpus, before the large bodies below raise it.
            rss_github = {server.name: server.peak_rss_mb() for server in started}

            sizes: list[load.LoadResult] = []
            for size in BODY_SIZES[:1] if quick else BODY_SIZES:
                sized_corpus = write_corpus(scratch / f"github-{size}.tsv", sized_samples(size))
                for name in ("ceiling", *RECEIVERS):
                    sizes.append(
                        _measure(by_name[name], sized_corpus, SIZE_CONNECTIONS, args.seconds, scratch, size, broker)
                    )
                    print(f"bench: {name:<12} {size:>7} B {_line(sizes[-1])}", file=sys.stderr)

            receiver = by_name[report.RECEIVER]
            best = statistics.median(report.best_by_round(closed, report.RECEIVER).values())
            await asyncio.sleep(2)  # let the last runs' backlog settle: this run measures normal load
            half = round(best / 2)
            before = report.scrape(receiver.url)
            open_loop = load.open_loop(
                report.RECEIVER,
                f"{receiver.url}/webhooks/bench",
                corpus,
                rate=half,
                seconds=args.seconds + 3,
                ids_file=scratch / report.RECEIVER / "open-loop.txt",
                body_bytes=body_bytes,
            )
            server_side = report.histogram_quantiles(
                before, report.scrape(receiver.url), "webhooks_request_duration_seconds", {"source": "bench"}
            )
            # The same schedule against the ceiling: what the load generator, the kernel and the HTTP server take
            # on their own, the floor under the receiver's client-side figures.
            ceiling = by_name["ceiling"]
            open_loop_ceiling = None
            if not quick:
                open_loop_ceiling = load.open_loop(
                    "ceiling",
                    f"{ceiling.url}/webhooks/github",
                    corpus,
                    rate=half,
                    seconds=args.seconds + 3,
                    ids_file=scratch / "ceiling" / "open-loop.txt",
                    body_bytes=body_bytes,
                )
            rss = {server.name: server.peak_rss_mb() for server in started}
        finally:
            for server in started:
                server.stop()
        await _flush_redis(f"{REDIS}/{SEED_REDIS_DB}")

        accepted_total, lost_total, checks = 0, 0, {}
        try:
            for name, topic in topic_of.items():
                accepted = load.accepted_ids(scratch / name)
                held = await topics.topic_ids(KAFKA, topic)
                lost = accepted - set(held)
                checks[name] = {"accepted": len(accepted), "records": len(held), "lost": len(lost)}
                accepted_total += len(accepted)
                lost_total += len(lost)
        finally:
            # Gigabytes each after a full run: not left on the broker when a check fails.
            await topics.delete_topics(KAFKA, *topic_of.values())
        receiver_results = {
            "closed_loop": [r.as_dict() for r in closed],
            "open_loop": open_loop.as_dict(),
            # The same run as the receiver itself saw it (its request histogram, first byte of the route to the
            # answer): the client-side figures above add the load generator's and the kernel's queueing.
            "open_loop_server_side_ms": server_side,
            "open_loop_ceiling": open_loop_ceiling.as_dict() if open_loop_ceiling else None,
            "body_sizes": [r.as_dict() for r in sizes],
            "kafka_check": checks,
            "accepted": accepted_total,
            "lost": lost_total,
        }
        common = {
            "run_id": run_id,
            "corpus": {"bodies": len(bodies), "mean_body_bytes": round(body_bytes)},
            "rounds": args.rounds,
            "seconds": args.seconds,
            "receiver": receiver_results,
            "peak_rss_mb": {name: round(value, 1) for name, value in rss.items()},
            "peak_rss_mb_github": {name: round(value, 1) for name, value in rss_github.items()},
        }
        if args.only == "receiver":
            return {**common, "machine": _machine(load_at_start), "consumer": []}

        settings = (
            [(DEFAULT_BATCH, DEFAULT_CONCURRENCY)]
            if quick
            else [(batch, DEFAULT_CONCURRENCY) for batch in CONSUMER_BATCHES]
            + [(DEFAULT_BATCH, c) for c in CONSUMER_CONCURRENCIES if c != DEFAULT_CONCURRENCY]
        )
        consumer = [
            run
            for body in consumer_bench.BODIES
            for run in await consumer_bench.runs(run_id, body, args.events, settings, logs)
        ]
    # Remembering handled events: Redis memory and commands per event, on a redis-server of its own.
    dedup = await measure_on_own_redis(20_000 if quick else 100_000)
    print(
        f"bench: dedup {dedup.bytes_per_event:.1f} B/event, {dedup.commands_per_event:.1f} commands/event",
        file=sys.stderr,
    )

    with tempfile.TemporaryDirectory(prefix="bench-sources-") as scratch_dir:
        logs = Path(scratch_dir) / "logs"
        logs.mkdir()
        registry = await sources.measure(args.seconds, 2 if quick else 2 * args.rounds, Path(scratch_dir), logs)
    print(f"bench: sources, 10,000 ÷ 1: {registry['ratio_many_to_one']:.2f}", file=sys.stderr)

    return {
        **common,
        "machine": _machine(load_at_start),
        "consumer": consumer,
        "dedup": asdict(dedup),
        "sources": registry,
    }


def _machine(load_at_start: float) -> dict[str, Any]:
    return {**report.machine(), "load_average_1m": [round(load_at_start, 1), round(os.getloadavg()[0], 1)]}


def _start_receiver(name: str, topic: str, logs: Path, workers: int) -> servers.Server:
    sources = logs.parent / f"{name}-sources.toml"
    sources.write_text(f'[sources.bench]\nprovider = "github"\ntopic = "{topic}"\n')
    env = {
        "KAFKA_BOOTSTRAP_SERVERS": KAFKA,
        "KAFKA_STATS_INTERVAL_MS": str(STATS_INTERVAL_MS),
        "WEBHOOK_SOURCES_FILE": str(sources),
        "WEBHOOK_SECRET_BENCH": BENCH_SECRET.decode(),
        "LOG_LEVEL": "WARNING",
    }
    return servers.receiver(name, env, logs, workers)


def _rounds(
    started: list[servers.Server],
    corpus: Path,
    connections: tuple[int, ...],
    rounds: int,
    seconds: int,
    scratch: Path,
    body_bytes: float,
    broker: int | None,
) -> list[load.LoadResult]:
    """Every server at every connection count, round after round, the order turned by one each round."""
    for server in started:
        # Warm-up, not recorded: connections, caches and the producer's first batches.
        _measure(server, corpus, 16, 2, scratch, body_bytes, broker)
    out = []
    for number in range(rounds):
        order = started[number % len(started) :] + started[: number % len(started)]
        for count in connections:
            for server in order:
                result = _measure(server, corpus, count, seconds, scratch, body_bytes, broker)
                result.round = number
                out.append(result)
                print(f"bench: round {number} {server.name:<12} c={count:<4} {_line(result)}", file=sys.stderr)
    return out


def _measure(
    server: servers.Server,
    corpus: Path,
    connections: int,
    seconds: int,
    scratch: Path,
    body_bytes: float,
    broker: int | None,
) -> load.LoadResult:
    """One wrk run, charged with the CPU of the server, the broker (`broker`: its pid, None where not found) and wrk."""
    receiver = server.name in RECEIVERS
    path = "/webhooks/bench" if receiver else "/webhooks/github"
    counted = report.produce_counts(server.url) if receiver else None
    broker_before = servers.cpu_s(broker) if broker is not None else 0.0
    client_before = servers.children_cpu_s()
    cpu_before = server.cpu_s()
    result = load.wrk(
        server.name,
        f"{server.url}{path}",
        corpus,
        connections=connections,
        seconds=seconds,
        ids_dir=scratch / server.name,
        body_bytes=body_bytes,
    )
    result.charge(server.cpu_s() - cpu_before)
    broker_cpu = servers.cpu_s(broker) - broker_before if broker is not None else None
    result.charge_others(broker_cpu, servers.children_cpu_s() - client_before)
    if counted is not None:
        time.sleep(STATS_WAIT_S)  # for the producers' statistics of the run's last requests
        accepted, produce_requests = report.produce_counts(server.url)
        result.count_produce_requests(accepted - counted[0], produce_requests - counted[1])
    return result


def _line(result: load.LoadResult) -> str:
    return (
        f"{result.accepted_per_s:>8.0f} req/s  p99 {result.p99_ms:6.1f} ms  {result.cpu_s_per_1k or 0:.3f} CPU-s/1k"
        f"  (broker {result.broker_cpu_s_per_1k or 0:.3f}, wrk {result.client_cpu_s_per_1k or 0:.3f})"
        + (f"  {result.records_per_request:.2f} records/request" if result.records_per_request is not None else "")
    )


async def _flush_redis(url: str) -> None:
    import redis.asyncio

    client = redis.asyncio.Redis.from_url(url)
    try:
        await client.flushdb()
    finally:
        await client.aclose()


if __name__ == "__main__":
    sys.exit(main())
