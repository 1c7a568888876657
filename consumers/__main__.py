"""`python -m consumers`: one consumer-group member; `python -m consumers replay`: re-drive dead letters.

Both are configured from the environment (`CONSUMER_*`, `KAFKA_*`, `REDIS_URL`); `replay` takes its
selection on the command line (`python -m consumers replay --help`). With `CONSUMER_WORKERS=N` above 1 the
process supervises N members instead (`supervision.group`), each `python -m consumers worker
--parent-fd=P`, and serves their metrics added up on CONSUMER_METRICS_PORT.

Exit codes: 0 after a clean stop (SIGTERM, SIGINT) or a replay that left nothing behind; 1 when a replay
could not handle every selected event; 2 for a configuration or usage error, or a handler module's lifespan
that failed to start (one line on stderr).
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import logging
import os
import shutil
import signal
import sys
from collections.abc import Coroutine, Sequence
from datetime import UTC, datetime
from functools import partial
from typing import Any, TypeVar

import redis.asyncio
import redis.asyncio.sentinel
import uvloop
from prometheus_client import CollectorRegistry
from prometheus_client.multiprocess import MultiProcessCollector
from redis.asyncio.connection import parse_url

from consumers.connection import pack_linearly
from consumers.dryrun import dry_run
from consumers.errors import ConfigError, StartupError
from consumers.idempotency import Client, IdempotencyStore
from consumers.kafka import read_to_end
from consumers.metrics import ConsumerMetrics, serve
from consumers.registry import Registry, load_handlers
from consumers.replay import Replayer, Selection, Summary
from consumers.settings import Settings, load_settings
from consumers.tracing import Tracing, tracing_from_env
from consumers.worker import Worker
from kafkaconfig.clients import aiokafka_options
from kafkaconfig.topics import ensure_topics
from schemas.logline import configure_logging
from schemas.topics import GroupTopics
from schemas.tracecontext import tracing_enabled
from supervision.group import METRICS_DIR_ENV, WorkerGroup, metrics_dir, orphaned

log = logging.getLogger(__name__)

T = TypeVar("T")

# Redis calls that get no answer in this many seconds fail (and are tried again): a hung server is an outage.
REDIS_TIMEOUT_S = 5.0
# Collections of the youngest generation per allocations: every event allocates hundreds of objects (its
# payload tree), almost none in cycles (refcounting frees them), so the default of 700 ran a collection
# every few events. The collector stays on: handlers may make cycles. Above the young objects of the records in
# flight (up to ~70,000 for a few thousand small events): at 50,000 a drain of small events ran a collection of
# them every ~5,000 events, 3 us an event in all.
GC_THRESHOLDS = (200_000, 20, 100)


async def run(
    settings: Settings,
    handlers: Registry[Any],
    tracing: Tracing | None = None,
    *,
    topics: Sequence[GroupTopics] | None = None,
    parent_fd: int | None = None,
) -> None:
    """Create the topics, serve the metrics and run a worker until SIGTERM or SIGINT.

    `topics` are those of each `CONSUMER_PROVIDERS` unless given (the benchmark reads a topic of its own). A
    member under a supervisor (`parent_fd`, the supervisor's pipe) leaves the metrics to it, and stops when the
    supervisor is gone.
    """
    if topics is None:
        topics = [GroupTopics.for_provider(p, settings.consumer_group) for p in settings.consumer_providers]
    metrics = ConsumerMetrics(CollectorRegistry())
    server = None
    if parent_fd is None:
        server, _ = serve(metrics.registry, settings.consumer_metrics_host, settings.consumer_metrics_port)
        log.info("metrics on http://%s:%d/metrics", settings.consumer_metrics_host, server.server_port)
    client = redis_client(settings)
    try:
        store = IdempotencyStore(client, windows=settings.remember_windows())
        worker = Worker.from_settings(settings, handlers, store=store, metrics=metrics, topics=topics, tracing=tracing)
        await ensure_topics(settings, [name for t in topics for name in (t.topic, t.retry_topic, t.dlq_topic)])
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, worker.stop)
        if parent_fd is not None:
            loop.add_reader(parent_fd, _stop_if_orphaned, worker, parent_fd)
        tune_gc()
        await worker.run()
    finally:
        await client.aclose()
        if server is not None:
            server.shutdown()


def supervise(settings: Settings) -> int:
    """Run CONSUMER_WORKERS members and serve their metrics, added up, until SIGTERM or SIGINT; the exit code."""
    directory, owned = metrics_dir(os.environ.get(METRICS_DIR_ENV))
    registry = CollectorRegistry()
    MultiProcessCollector(registry, path=str(directory))  # type: ignore[no-untyped-call]
    server, _ = serve(registry, settings.consumer_metrics_host, settings.consumer_metrics_port)
    log.info(
        "%d members; metrics of all on http://%s:%d/metrics",
        settings.consumer_workers,
        settings.consumer_metrics_host,
        server.server_port,
    )

    def command(_: int) -> tuple[list[str], list[int]]:
        return [sys.executable, "-m", "consumers", "worker"], []

    try:
        return WorkerGroup("consumers", settings.consumer_workers, command, dict(os.environ), directory).run()
    finally:
        server.shutdown()
        if owned:
            shutil.rmtree(directory, ignore_errors=True)


def _stop_if_orphaned(worker: Worker, parent_fd: int) -> None:
    if orphaned(parent_fd):
        asyncio.get_running_loop().remove_reader(parent_fd)
        log.error("the supervisor is gone: stopping")
        worker.stop()


async def replay(settings: Settings, handlers: Registry[Any], args: argparse.Namespace) -> int:
    """Replay the selected dead letters of the group; the exit code."""
    client = redis_client(settings)
    try:
        store = IdempotencyStore(client, windows=settings.remember_windows())
        replayer = Replayer.from_settings(settings, handlers, store, rate_per_s=args.rate, force=args.force)
        providers = args.provider or settings.consumer_providers
        topics = [GroupTopics.for_provider(p, settings.consumer_group) for p in providers]
        selection = Selection(frozenset(args.id or ()), args.since, args.until, frozenset(args.handler or ()))
        if args.dry_run:
            summary = await replayer.dry_run(topics, selection)
        else:
            summary = await replayer.run(topics, selection, _progress_bar)
            if summary.selected and sys.stderr.isatty():
                print(file=sys.stderr)
        print(("dry run: " if args.dry_run else "replay: ") + summary.line(dry_run=args.dry_run))
        return 0 if args.dry_run or summary.complete else 1
    finally:
        await client.aclose()


async def dry(settings: Settings, handlers: Registry[Any]) -> int:
    """List what the group would run for the records waiting for it, changing nothing; the exit code."""
    client = redis_client(settings)
    try:
        group = settings.consumer_group
        summary = await dry_run(
            [GroupTopics.for_provider(p, group) for p in settings.consumer_providers],
            group=group,
            registry=handlers,
            store=IdempotencyStore(client, windows=settings.remember_windows()),
            read=partial(read_to_end, aiokafka_options(settings), group=group),
        )
        print(f"dry run: {summary.line()}")
        return 0
    finally:
        await client.aclose()


def _progress_bar(summary: Summary) -> None:
    # One line, redrawn in place on a terminal; a log file gets only the summary. The DLQ is read as it is
    # replayed, so the total is not known before the end.
    if not sys.stderr.isatty():
        return
    print(f"\r{summary.processed} replayed of {summary.read} dead letters read", end="", file=sys.stderr, flush=True)


def redis_client(settings: Settings) -> Client:
    """The Redis client of `REDIS_URL`: one server, a Redis Cluster, or the master the sentinels name."""
    url = settings.redis_url.get_secret_value()
    timeout_s = REDIS_TIMEOUT_S
    if settings.redis_cluster:
        return redis.asyncio.RedisCluster.from_url(url, socket_timeout=timeout_s, socket_connect_timeout=timeout_s)
    if settings.redis_sentinels:
        # The database and the credentials come from REDIS_URL; where the master is, from the sentinels.
        options = {k: v for k, v in parse_url(url).items() if k in {"db", "username", "password"}}
        sentinels = [(host, int(port)) for host, _, port in (a.rpartition(":") for a in settings.redis_sentinels)]
        sentinel = redis.asyncio.sentinel.Sentinel(  # type: ignore[no-untyped-call]  # untyped in redis-py
            sentinels,
            sentinel_kwargs={"socket_timeout": timeout_s, "socket_connect_timeout": timeout_s},
            socket_timeout=timeout_s,
            socket_connect_timeout=timeout_s,
            **options,
        )
        master: redis.asyncio.Redis = sentinel.master_for(settings.redis_sentinel_master)
        return pack_linearly(master)
    return pack_linearly(redis.asyncio.Redis.from_url(url, socket_timeout=timeout_s, socket_connect_timeout=timeout_s))


def tune_gc() -> None:
    """Move everything alive after start-up (modules, settings, clients) out of the collector's way, and
    collect the youngest generation less often."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLDS)


def _moment(value: str) -> datetime:
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is no ISO 8601 time (2026-11-26T17:00:00Z)") from None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def _rate(value: str) -> float:
    try:
        rate = float(value)
    except ValueError:
        rate = 0.0
    if not rate > 0:
        raise argparse.ArgumentTypeError(f"{value!r} is no positive number")
    return rate


def parser(prog: str = "python -m consumers") -> argparse.ArgumentParser:
    """The command line: `run` (the default) and `replay`."""
    main = argparse.ArgumentParser(
        prog=prog,
        description="Consumer-group worker of the webhook topics. Configured from the environment "
        "(CONSUMER_GROUP, CONSUMER_PROVIDERS, CONSUMER_HANDLERS, KAFKA_*, REDIS_URL: docs/configuration.md).",
    )
    dry_run_help = (
        "list which handlers each record waiting for the group would run, from the group's committed offsets to the "
        "end of its topics, and exit: without joining the group, claiming, running or committing anything"
    )
    main.add_argument("--dry-run", action="store_true", help=dry_run_help)
    commands = main.add_subparsers(dest="command", metavar="{run,replay}")
    run = commands.add_parser("run", help="run one member of the group until SIGTERM (the default)")
    run.add_argument("--dry-run", action="store_true", default=argparse.SUPPRESS, help=dry_run_help)
    # A member started by the supervisor of CONSUMER_WORKERS (not listed: not for people to run).
    member = commands.add_parser("worker")
    member.add_argument("--parent-fd", type=int, required=True)
    again = commands.add_parser(
        "replay",
        help="run dead-lettered events through the group's handlers again",
        description="Read the group's DLQ topics (webhooks.<provider>.<group>.dlq) from the beginning and run "
        "the selected events through the handlers of CONSUMER_HANDLERS, with the group's claims in Redis: an "
        "event handled already is a duplicate and is skipped unless --force. The DLQ is left as it is. Exit "
        "code 0 when every selected event is handled now (or was already), 1 when one failed, was invalid, "
        "was busy (a worker holds it) or an --id was not found, 2 for a usage or configuration error.",
    )
    again.add_argument("--group", help="the consumer group (default: CONSUMER_GROUP)")
    again.add_argument(
        "--provider", action="append", help="a provider whose DLQ to read; repeatable (default: CONSUMER_PROVIDERS)"
    )
    again.add_argument("--id", action="append", metavar="EVENT_ID", help="replay only this event id; repeatable")
    again.add_argument(
        "--since", type=_moment, metavar="TIME", help="only events dead-lettered at or after TIME (ISO 8601, UTC)"
    )
    again.add_argument("--until", type=_moment, metavar="TIME", help="only events dead-lettered before TIME")
    again.add_argument(
        "--handler",
        action="append",
        metavar="NAME",
        help="only events the handler of this registered name failed (webhook-failed-handlers); repeatable",
    )
    again.add_argument("--rate", type=_rate, default=10.0, help="most handler runs per second (default: 10)")
    again.add_argument("--force", action="store_true", help="run events that were handled already, too")
    again.add_argument("--dry-run", action="store_true", help="list what would be replayed, and change nothing")
    return main


def main(argv: Sequence[str] | None = None, *, prog: str = "python -m consumers") -> int:
    """Run the process; the exit code."""
    args = parser(prog).parse_args(argv)
    overrides = {"consumer_group": args.group} if getattr(args, "group", None) else {}
    try:
        settings = load_settings(**overrides)
    except ConfigError as exc:
        print(f"consumers: configuration error: {exc}", file=sys.stderr)
        return 2
    configure_logging(settings.log_level, settings.log_format)
    # aiokafka logs every (re)assignment and reconnect at INFO; ours say what matters. httpx logs every request
    # at INFO with its whole URL, which may carry a token (`FORWARD_URL`).
    for noisy in ("aiokafka", "httpx"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, logging.getLevelName(settings.log_level)))
    try:
        handlers = _handlers(settings)
    except ConfigError as exc:
        print(f"consumers: {exc}", file=sys.stderr)
        return 2
    if args.command == "replay":
        return _unless_startup_fails(replay(settings, handlers, args))
    if args.dry_run:
        return run_loop(dry(settings, handlers))
    try:
        tracing_enabled(os.environ)  # a bad OTEL_* value stops start-up here, before any worker starts
    except ValueError as exc:
        print(f"consumers: {exc}", file=sys.stderr)
        return 2
    if args.command != "worker" and settings.consumer_workers > 1:
        return supervise(settings)
    try:
        traces = tracing_from_env(os.environ)  # per process: an exporter's thread does not cross into a worker
    except ConfigError as exc:
        print(f"consumers: {exc}", file=sys.stderr)
        return 2
    tracing, stop_tracing = traces if traces is not None else (None, None)
    parent_fd = args.parent_fd if args.command == "worker" else None
    try:
        return _unless_startup_fails(run(settings, handlers, tracing, parent_fd=parent_fd))
    finally:
        if stop_tracing is not None:
            stop_tracing()  # sends the spans still batched


def _handlers(settings: Settings) -> Registry[None]:
    # No default: a group started without its handlers would mark every event done without work, and its real
    # handlers would later see them all as duplicates.
    if not settings.consumer_handlers:
        raise ConfigError("CONSUMER_HANDLERS is not set: name the handler modules to run (consumers.examples.agent)")
    handlers = load_handlers(settings.consumer_handlers)
    if not len(handlers):
        raise ConfigError(f"CONSUMER_HANDLERS: {', '.join(settings.consumer_handlers)} register no handler")
    handlers.check(settings.consumer_providers)
    handlers.check_lease(settings.consumer_lease_ms)
    return handlers


def run_loop(main: Coroutine[Any, Any, T]) -> T:
    """Run `main` on uvloop, the loop the receiver runs on too: asyncio's own costs the worker ~15% more CPU per
    event (its task, future and timer machinery in Python, per record)."""
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        return runner.run(main)


def _unless_startup_fails(main: Coroutine[Any, Any, int | None]) -> int:
    # A lifespan that fails to start is one line and exit code 2, like a setting: nothing was consumed.
    try:
        code = run_loop(main)
    except StartupError as exc:
        print(f"consumers: {exc}", file=sys.stderr)
        return 2
    return code or 0


if __name__ == "__main__":
    sys.exit(main())
