"""`make bench` (`python -m bench`): the receiver and the consumer measured against their baselines.

Everything runs on this machine against the real Kafka and Redis (started by `make up`):

1. Receiver, closed loop (wrk): the ceiling, the seed design and the receiver (with each Kafka client),
   the same pre-signed GitHub requests, at several connection counts: accepted requests/s and latency.
2. Receiver, open loop: a fixed rate at half the receiver's best, latency measured from when each
   request was due.
3. Body size: the receiver and the ceiling with 1 KiB, 16 KiB and 256 KiB bodies.
4. Nothing lost: every id answered 202 must be a record on the receiver's topic.
5. Consumer: a topic of N envelopes (10% redeliveries) drained by one worker with a no-op handler, per
   batch size: events/s and exact counts.

Results: bench/results/latest.json, bench/results/latest.png and the table of docs/performance.md.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

from bench import load, report, servers, topics
from bench.corpus import BENCH_SECRET, github_samples, mean_size, sized_samples, write_corpus

KAFKA = os.environ.get("KAFKA_BOOTSTRAP_SERVERS", "localhost:9092")
REDIS = os.environ.get("REDIS_URL", "redis://localhost:6379/0").rsplit("/", 1)[0]
# The seed baseline's SET NX keys go to a database of their own, flushed after the run.
SEED_REDIS_DB = 9
CONNECTIONS = (16, 64, 256)
BODY_SIZES = (1024, 16 * 1024, 256 * 1024)
CONSUMER_BATCHES = (100, 500, 2000)


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=8, help="length of each load run (default 8)")
    parser.add_argument("--events", type=int, default=50_000, help="events in the consumer's topic (default 50000)")
    parser.add_argument("--quick", action="store_true", help="a smoke run: 2 s runs, 2000 events, one setting each")
    parser.add_argument("--out", type=Path, default=report.RESULTS, help="results directory")
    parser.add_argument("--no-docs", action="store_true", help="don't rewrite the table of docs/performance.md")
    args = parser.parse_args()
    load.require_tools()
    if args.quick:
        args.seconds, args.events = 2, 2000
    results = asyncio.run(run(args))
    report.write(results, args.out, page=not args.no_docs)
    for line in report.summary_lines(results):
        print(line)
    return 0 if results["receiver"]["lost"] == 0 and all(r["exact"] for r in results["consumer"]) else 1


async def run(args: argparse.Namespace) -> dict[str, Any]:
    run_id = uuid.uuid4().hex[:8]
    quick = args.quick
    connections = (64,) if quick else CONNECTIONS
    with tempfile.TemporaryDirectory(prefix="bench-") as scratch_dir:
        scratch = Path(scratch_dir)
        logs = scratch / "logs"
        logs.mkdir()
        bodies = github_samples()
        corpus = write_corpus(scratch / "github.tsv", bodies)
        body_bytes = mean_size(bodies)
        load.build_loadgen()
        print(f"bench: {len(bodies)} GitHub bodies, mean {body_bytes:.0f} bytes; logs in {logs}", file=sys.stderr)

        closed: list[load.LoadResult] = []
        topics_to_check: dict[str, tuple[str, Path]] = {}
        rss: dict[str, float] = {}

        ceiling = servers.uvicorn_app("ceiling", "bench.baselines.ceiling:app", {}, logs)
        closed += _closed_loop(ceiling, corpus, connections, args.seconds, scratch, body_bytes)
        rss["ceiling"] = ceiling.peak_rss_mb()
        ceiling.stop()

        seed_env = {"REDIS_URL": f"{REDIS}/{SEED_REDIS_DB}"}
        seed = servers.uvicorn_app("seed", "bench.baselines.seed:app", seed_env, logs)
        closed += _closed_loop(seed, corpus, connections, args.seconds, scratch, body_bytes)
        rss["seed"] = seed.peak_rss_mb()
        seed.stop()
        await _flush_redis(f"{REDIS}/{SEED_REDIS_DB}")

        clients = ("librdkafka",) if quick else ("librdkafka", "aiokafka")
        open_loop: load.LoadResult | None = None
        server_side: dict[str, float] = {}
        for client in clients:
            name = f"receiver-{client}"
            topic = f"bench.{run_id}.{client}"
            ids_dir = scratch / name
            receiver = _start_receiver(name, client, topic, logs)
            closed += _closed_loop(
                receiver, corpus, connections, args.seconds, ids_dir, body_bytes, path="/webhooks/bench"
            )
            if client == "librdkafka":
                best = max(r.accepted_per_s for r in closed if r.server == name)
                await asyncio.sleep(2)  # let the last closed-loop run's backlog settle: this run measures normal load
                before = report.scrape(receiver.url)
                open_loop = load.open_loop(
                    name,
                    f"{receiver.url}/webhooks/bench",
                    corpus,
                    rate=round(best / 2),
                    seconds=args.seconds + 2,
                    connections=64,
                    ids_file=ids_dir / "open-loop.txt",
                    body_bytes=body_bytes,
                )
                server_side = report.histogram_quantiles(
                    before, report.scrape(receiver.url), "webhooks_request_duration_seconds", {"source": "bench"}
                )
            rss[name] = receiver.peak_rss_mb()
            receiver.stop()
            topics_to_check[name] = (topic, ids_dir)

        sizes: list[load.LoadResult] = []
        for size in BODY_SIZES[:1] if quick else BODY_SIZES:
            sized = sized_samples(size)
            sized_corpus = write_corpus(scratch / f"github-{size}.tsv", sized)
            ceiling = servers.uvicorn_app(f"ceiling-{size}", "bench.baselines.ceiling:app", {}, logs)
            sizes.append(_one(ceiling, sized_corpus, 64, args.seconds, scratch, size, "ceiling"))
            ceiling.stop()
            name = f"receiver-{size}"
            topic = f"bench.{run_id}.size{size}"
            receiver = _start_receiver(name, "librdkafka", topic, logs)
            sizes.append(
                _one(
                    receiver,
                    sized_corpus,
                    64,
                    args.seconds,
                    scratch / name,
                    size,
                    "receiver-librdkafka",
                    path="/webhooks/bench",
                )
            )
            rss[name] = receiver.peak_rss_mb()
            receiver.stop()
            topics_to_check[name] = (topic, scratch / name)

        accepted_total, lost_total, checks = 0, 0, {}
        for name, (topic, ids_dir) in topics_to_check.items():
            accepted = load.accepted_ids(ids_dir)
            held = await topics.topic_ids(KAFKA, topic)
            lost = accepted - set(held)
            checks[name] = {"accepted": len(accepted), "records": len(held), "lost": len(lost)}
            accepted_total += len(accepted)
            lost_total += len(lost)
            await topics.delete_topics(KAFKA, topic)

        consumer = await _consumer_runs(run_id, bodies, args.events, (500,) if quick else CONSUMER_BATCHES, logs)

    return {
        "run_id": run_id,
        "machine": report.machine(),
        "corpus": {"bodies": len(bodies), "mean_body_bytes": round(body_bytes)},
        "receiver": {
            "closed_loop": [r.as_dict() for r in closed],
            "open_loop": open_loop.as_dict() if open_loop else None,
            # The same run as the receiver itself saw it (its request histogram, first byte of the route to the
            # answer): the client-side figures above add the load generator's and the kernel's queueing.
            "open_loop_server_side_ms": server_side if open_loop else None,
            "body_sizes": [r.as_dict() for r in sizes],
            "kafka_check": checks,
            "accepted": accepted_total,
            "lost": lost_total,
        },
        "consumer": consumer,
        "peak_rss_mb": {name: round(value, 1) for name, value in rss.items()},
    }


def _start_receiver(name: str, client: str, topic: str, logs: Path) -> servers.Server:
    sources = logs.parent / f"{name}-sources.toml"
    sources.write_text(f'[sources.bench]\nprovider = "github"\ntopic = "{topic}"\n')
    env = {
        "RECEIVER_KAFKA_CLIENT": client,
        "KAFKA_BOOTSTRAP_SERVERS": KAFKA,
        "WEBHOOK_SOURCES_FILE": str(sources),
        "WEBHOOK_SECRET_BENCH": BENCH_SECRET.decode(),
        "LOG_LEVEL": "WARNING",
    }
    return servers.receiver(name, env, logs)


def _closed_loop(
    server: servers.Server,
    corpus: Path,
    connections: tuple[int, ...],
    seconds: int,
    ids_dir: Path,
    body_bytes: float,
    path: str = "/webhooks/github",
) -> list[load.LoadResult]:
    url = f"{server.url}{path}"
    # Warm-up, not recorded: connections, JIT-free but caches and the producer's first batches.
    load.wrk(server.name, url, corpus, connections=16, seconds=2, ids_dir=ids_dir, body_bytes=body_bytes)
    out = []
    for count in connections:
        result = load.wrk(
            server.name, url, corpus, connections=count, seconds=seconds, ids_dir=ids_dir, body_bytes=body_bytes
        )
        print(
            f"bench: {server.name:<20} c={count:<4} {result.accepted_per_s:>8.0f} req/s  p99 {result.p99_ms:.1f} ms",
            file=sys.stderr,
        )
        out.append(result)
    return out


def _one(
    server: servers.Server,
    corpus: Path,
    connections: int,
    seconds: int,
    ids_dir: Path,
    size: int,
    label: str,
    path: str = "/webhooks/github",
) -> load.LoadResult:
    url = f"{server.url}{path}"
    load.wrk(label, url, corpus, connections=16, seconds=1, ids_dir=ids_dir, body_bytes=size)
    result = load.wrk(label, url, corpus, connections=connections, seconds=seconds, ids_dir=ids_dir, body_bytes=size)
    print(
        f"bench: {label:<20} {size:>7} B {result.accepted_per_s:>8.0f} req/s  p99 {result.p99_ms:.1f} ms",
        file=sys.stderr,
    )
    return result


async def _consumer_runs(
    run_id: str, bodies: list[tuple[str, bytes]], events: int, batches: tuple[int, ...], logs: Path
) -> list[dict[str, Any]]:
    topic = f"bench.{run_id}.consumer"
    await topics.create_topic(KAFKA, topic)
    started = time.monotonic()
    produced, distinct = await topics.fill_with_envelopes(KAFKA, topic, bodies, events, duplicate_share=0.10)
    print(
        f"bench: {produced} envelopes ({distinct} distinct) on {topic} in {time.monotonic() - started:.1f}s",
        file=sys.stderr,
    )
    runs = []
    for batch in batches:
        group = f"bench-{run_id}-{batch}"
        runs.append(await _drain(topic, group, batch, produced, distinct, logs))
        await topics.delete_topics(KAFKA, f"{topic}.{group}.retry", f"{topic}.{group}.dlq")
        await _flush_group_keys(group)
    await topics.delete_topics(KAFKA, topic)
    return runs


async def _drain(topic: str, group: str, batch: int, produced: int, distinct: int, logs: Path) -> dict[str, Any]:
    port = servers.free_port()
    env = {
        "KAFKA_BOOTSTRAP_SERVERS": KAFKA,
        "REDIS_URL": f"{REDIS}/0",
        "CONSUMER_GROUP": group,
        "CONSUMER_METRICS_PORT": str(port),
        "CONSUMER_MAX_BATCH": str(batch),
        "LOG_LEVEL": "WARNING",
    }
    worker = servers.start(f"drain-{batch}", [sys.executable, "-m", "bench.drain_worker", topic], env, port, logs)
    labels = {"provider": "github", "group": group}
    try:
        first = None
        deadline = time.monotonic() + 600
        while time.monotonic() < deadline:
            metrics = report.scrape(worker.url)
            consumed = metrics.get(("webhooks_consumed_total", frozenset(labels.items())), 0.0)
            done = sum(
                metrics.get(("webhooks_processed_total", frozenset({**labels, "outcome": o}.items())), 0.0)
                for o in ("ok", "duplicate", "invalid", "retried", "dead_lettered")
            )
            if first is None and consumed > 0:
                first = (time.monotonic(), consumed)
            if done >= produced:
                break
            await asyncio.sleep(0.05)
        else:
            raise RuntimeError(f"the worker did not drain {topic} within 600 s")
        finished = time.monotonic()
        assert first is not None
        ok = metrics.get(("webhooks_processed_total", frozenset({**labels, "outcome": "ok"}.items())), 0.0)
        duplicates = metrics.get(("webhooks_duplicates_total", frozenset(labels.items())), 0.0)
        # Timed from the first consumed batch: start-up and the group join are not the worker's throughput.
        seconds = finished - first[0]
        result = {
            "batch": batch,
            "events": produced,
            "distinct": distinct,
            "handled_ok": int(ok),
            "duplicates": int(duplicates),
            "exact": int(ok) == distinct and int(duplicates) == produced - distinct,
            "seconds": round(seconds, 2),
            "events_per_s": round((produced - first[1]) / seconds, 1),
            "peak_rss_mb": round(worker.peak_rss_mb(), 1),
        }
        print(
            f"bench: consumer batch={batch:<5} {result['events_per_s']:>8.0f} events/s  exact={result['exact']}",
            file=sys.stderr,
        )
        return result
    finally:
        worker.stop()


async def _flush_redis(url: str) -> None:
    import redis.asyncio

    client = redis.asyncio.Redis.from_url(url)
    try:
        await client.flushdb()
    finally:
        await client.aclose()


async def _flush_group_keys(group: str) -> None:
    import redis.asyncio

    client = redis.asyncio.Redis.from_url(f"{REDIS}/0")
    try:
        chunk: list[bytes] = []
        async for key in client.scan_iter(match=f"webhooks:idem:{group}:*", count=5000):
            chunk.append(key)
            if len(chunk) == 5000:
                await client.unlink(*chunk)
                chunk.clear()
        if chunk:
            await client.unlink(*chunk)
    finally:
        await client.aclose()


if __name__ == "__main__":
    sys.exit(main())
