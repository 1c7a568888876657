"""`python -m bench.consumer`: one consumer worker draining a topic of envelopes alone, with exact counts.

The consumer stage of `make bench` (`runs`), also runnable by itself: a topic of N envelopes (10% of them
redeliveries of an earlier id) drained by `bench.drain_worker` (the worker of `python -m consumers` with a
no-op handler) for each batch size and handler concurrency asked for. Each run reports events/s (from the first
consumed batch to the last processed event, as the worker's own metrics count them), the worker's CPU-seconds
per 1,000 events (its process CPU time, which other work on a shared machine does not inflate), and whether the
counts are exact: every distinct event handled once, every redelivery dropped as a duplicate.

    python -m bench.consumer --events 100000 --body small
    python -m bench.consumer --body github --batch 500 --concurrency 16 --rounds 3 --against /tmp/old-checkout

`--against` alternates runs of the worker from another checkout (same interpreter and packages) with this one's,
A B A B, so two versions are compared under the same load. `--handler json` or `--handler model` drains with a
handler that reads the payload (`bench/readers.py`), for what a real handler pays.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time
import urllib.parse
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench import report, servers, topics
from bench.corpus import github_samples, mean_size, small_samples

KAFKA = os.environ.get("KAFKA_BOOTSTRAP_SERVERS", "localhost:9092")
REDIS = os.environ.get("REDIS_URL", "redis://localhost:6379/0").rsplit("/", 1)[0]
# The bodies a consumer topic is filled with: real GitHub deliveries (~10 KB) or cut down to ~170 bytes.
BODIES: dict[str, Callable[[], list[tuple[str, bytes]]]] = {"github": github_samples, "small": small_samples}
# A drain that has not finished by then is a stuck worker, not a slow one.
DRAIN_TIMEOUT_S = 600
# Between scrapes of the worker's metrics, in seconds: each scrape costs the worker CPU (rendering every metric in
# its HTTP thread, ~10% of its CPU at one scrape per 50 ms), so it is scraped seldom, and often only near the end.
POLL_S = (0.02, 0.5)


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.consumer", description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=100_000, help="events in the topic (default 100000)")
    parser.add_argument("--body", choices=sorted(BODIES), action="append", help="bodies (default: both, in turn)")
    parser.add_argument("--batch", type=int, action="append", help="CONSUMER_MAX_BATCH values (default 500)")
    parser.add_argument("--concurrency", type=int, action="append", help="CONSUMER_CONCURRENCY values (default 16)")
    parser.add_argument("--rounds", type=int, default=1, help="drains per setting (default 1)")
    parser.add_argument("--against", type=Path, help="another checkout whose worker runs in turn with this one's")
    parser.add_argument(
        "--handler",
        choices=("noop", "json", "model"),
        default="noop",
        help="noop (default), or one that reads the payload: json (plain), model (Event[GitHubEvent])",
    )
    args = parser.parse_args()
    settings = [(b, c) for b in args.batch or [500] for c in args.concurrency or [16]]
    roots = [servers.ROOT] if args.against is None else [args.against.resolve(), servers.ROOT]
    exact = True
    for body in args.body or sorted(BODIES):
        with tempfile.TemporaryDirectory(prefix="bench-consumer-") as scratch:
            logs = Path(scratch)
            results = asyncio.run(
                runs(uuid.uuid4().hex[:8], body, args.events, settings, logs, args.rounds, roots, args.handler)
            )
        exact &= all(run["exact"] for run in results)
        if len(results) > 1:
            for root in roots:
                mine = [run for run in results if run["root"] == str(root)]
                print(
                    f"{body} {root}: median {statistics.median(r['events_per_s'] for r in mine):.0f} events/s, "
                    f"{statistics.median(r['cpu_s_per_1k'] for r in mine):.4f} CPU-s/1k over {len(mine)} runs"
                )
    return 0 if exact else 1


async def runs(
    run_id: str,
    body: str,
    events: int,
    settings: list[tuple[int, int]],
    logs: Path,
    rounds: int = 1,
    roots: list[Path] | None = None,
    handler: str = "noop",
) -> list[dict[str, Any]]:
    """Fill a topic with `events` envelopes of `body` bodies and drain it once per setting, round and checkout."""
    bodies = BODIES[body]()
    topic = f"bench.{run_id}.consumer-{body}"
    await topics.create_topic(KAFKA, topic)
    started = time.monotonic()
    produced, distinct = await topics.fill_with_envelopes(KAFKA, topic, bodies, events, duplicate_share=0.10)
    print(
        f"bench: {produced} {body} envelopes (mean body {mean_size(bodies):.0f} B, {distinct} distinct) on {topic} in "
        f"{time.monotonic() - started:.1f}s",
        file=sys.stderr,
    )
    out: list[dict[str, Any]] = []
    try:
        for number in range(rounds):
            for batch, concurrency in settings:
                for root in roots or [servers.ROOT]:
                    group = f"bench-{run_id}-{batch}-{concurrency}-{number}-{len(out)}"
                    result = await _drain(topic, group, batch, concurrency, produced, distinct, logs, root, handler)
                    out.append({"body": body, "mean_body_bytes": round(mean_size(bodies)), **result})
                    await topics.delete_topics(KAFKA, f"{topic}.{group}.retry", f"{topic}.{group}.dlq")
                    await _flush_group_keys(group)
    finally:
        await topics.delete_topics(KAFKA, topic)
    return out


async def _drain(
    topic: str,
    group: str,
    batch: int,
    concurrency: int,
    produced: int,
    distinct: int,
    logs: Path,
    root: Path = servers.ROOT,
    handler: str = "noop",
) -> dict[str, Any]:
    port = servers.free_port()
    env = {
        "KAFKA_BOOTSTRAP_SERVERS": KAFKA,
        "REDIS_URL": f"{REDIS}/0",
        "CONSUMER_GROUP": group,
        "CONSUMER_METRICS_PORT": str(port),
        "CONSUMER_MAX_BATCH": str(batch),
        "CONSUMER_CONCURRENCY": str(concurrency),
        "LOG_LEVEL": "WARNING",
        "PYTHONPATH": str(root),
    }
    # A checkout from before `bench/readers.py` runs its no-op handler whatever `handler` says.
    argv = [sys.executable, "-m", "bench.drain_worker", topic, handler]
    worker = servers.start(f"drain-{batch}-{concurrency}", argv, env, port, logs, cwd=root)
    labels = {"provider": "github", "group": group}
    # The broker's and Redis's CPU during the drain too, where they run on this machine: on two cores they compete with
    # the worker (other work on the machine adds to theirs, so they count in a quiet run only).
    neighbours = {name: pid for name, pid in _neighbours().items() if pid is not None}
    try:
        first = None
        cpu_before = worker.cpu_s()
        theirs_before: dict[str, float] = {}
        deadline = time.monotonic() + DRAIN_TIMEOUT_S
        while time.monotonic() < deadline:
            metrics = report.scrape(worker.url)
            consumed = metrics.get(("webhooks_consumed_total", frozenset(labels.items())), 0.0)
            done = _processed(metrics, labels)
            if first is None and consumed > 0:
                first = (time.monotonic(), consumed)
                # From here on, as events/s: the group join is not what the drain costs them.
                theirs_before = {name: servers.cpu_s(pid) for name, pid in neighbours.items()}
            if done >= produced:
                break
            await asyncio.sleep(_poll_s(produced - done, first, done))
        else:
            raise RuntimeError(f"the worker did not drain {topic} within {DRAIN_TIMEOUT_S} s")
        finished = time.monotonic()
        cpu = worker.cpu_s() - cpu_before
        theirs = {name: servers.cpu_s(pid) - theirs_before[name] for name, pid in neighbours.items()}
        assert first is not None
        ok = _processed(metrics, {**labels, "outcome": "ok"})
        duplicates = metrics.get(("webhooks_duplicates_total", frozenset(labels.items())), 0.0)
        # Timed from the first consumed batch: start-up and the group join are not the worker's throughput.
        seconds = finished - first[0]
        result = {
            "batch": batch,
            "concurrency": concurrency,
            "events": produced,
            "distinct": distinct,
            "handled_ok": int(ok),
            "duplicates": int(duplicates),
            "exact": int(ok) == distinct and int(duplicates) == produced - distinct,
            "seconds": round(seconds, 2),
            "events_per_s": round((produced - first[1]) / seconds, 1),
            "peak_rss_mb": round(worker.peak_rss_mb(), 1),
            "cpu_s_per_1k": round(1000 * cpu / produced, 4),
            **{
                # Charged from the first consumed batch on; a drain whose first batch held every event: all of them.
                f"{name}_cpu_s_per_1k": round(1000 * spent / ((produced - first[1]) or produced), 4)
                for name, spent in theirs.items()
            },
            "handler": handler,
            "root": str(root),
        }
        print(
            f"bench: consumer batch={batch:<5} concurrency={concurrency:<3} {result['events_per_s']:>8.0f} events/s"
            f"  {result['cpu_s_per_1k']:.4f} CPU-s/1k  exact={result['exact']}  peak RSS {result['peak_rss_mb']} MiB"
            + "".join(f"  {name} {spent:.4f}" for name, spent in result.items() if name.endswith("_cpu_s_per_1k"))
            + ("" if root == servers.ROOT else f"  ({root})"),
            file=sys.stderr,
        )
        return result
    finally:
        worker.stop()


def _neighbours() -> dict[str, int | None]:
    # The local broker (the first bootstrap server) and Redis, by the port each listens on.
    found: dict[str, int | None] = {}
    for name, url in (("broker", f"//{KAFKA.split(',')[0]}"), ("redis", REDIS)):
        address = urllib.parse.urlsplit(url)
        local = address.hostname in ("localhost", "127.0.0.1") and address.port is not None
        found[name] = servers.listening_pid(address.port) if local and address.port is not None else None
    return found


def _poll_s(left: float, first: tuple[float, float] | None, done: float) -> float:
    # Half the time the events left take at the rate so far: the last scrape comes at most ~20 ms after the end.
    if first is None or done <= 0:
        return POLL_S[0] * 5
    rate = done / max(time.monotonic() - first[0], 1e-3)
    return min(POLL_S[1], max(POLL_S[0], left / rate / 2))


async def _flush_group_keys(group: str) -> None:
    import redis.asyncio

    client = redis.asyncio.Redis.from_url(f"{REDIS}/0")
    try:
        chunk: list[bytes] = []
        async for key in client.scan_iter(match=f"webhooks:*{{{group}:*", count=5000):
            chunk.append(key)
            if len(chunk) == 5000:
                await client.unlink(*chunk)
                chunk.clear()
        if chunk:
            await client.unlink(*chunk)
    finally:
        await client.aclose()


def _processed(metrics: dict[tuple[str, frozenset[tuple[str, str]]], float], labels: dict[str, str]) -> float:
    # Summed over the labels not asked for (outcome, handler): the worker counts once per handler and outcome.
    wanted = set(labels.items())
    return sum(v for (name, got), v in metrics.items() if name == "webhooks_processed_total" and wanted <= got)


if __name__ == "__main__":
    sys.exit(main())
