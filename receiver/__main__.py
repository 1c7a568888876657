"""`python -m receiver`: serve the receiver with uvicorn on RECEIVER_HOST:RECEIVER_PORT.

With `RECEIVER_WORKERS=N` above 1 this process supervises N workers instead (`supervisor.py`), each started
as `python -m receiver worker --listen-fd=F [--cpu=C] --parent-fd=P` on a socket it inherits (and pinned to
CPU C, with the threads it starts). `python -m receiver send <source>` signs a sample event with the
source's secret and posts it (`sample_sender.py`); `python -m receiver sources ...` changes the run-time
source registry (`registry/commands.py`).
"""

from __future__ import annotations

import asyncio
import gc
import logging
import os
import socket
import sys
from pathlib import Path
from typing import NamedTuple

import uvicorn
from prometheus_client import disable_created_metrics

from receiver.app import create_app
from receiver.errors import ConfigError
from receiver.protocol import HttpProtocol
from receiver.registry.keyring import load_keyring
from receiver.settings import load_settings
from receiver.sources import load_sources
from receiver.supervisor import Supervisor
from receiver.tracing import tracing_from_env
from schemas.logline import configure_logging
from schemas.tracecontext import tracing_enabled
from supervision.group import METRICS_DIR_ENV, orphaned
from telemetry.multiprocess import BatchedValues

logger = logging.getLogger("receiver")

_GC_THRESHOLDS = (50_000, 20, 100)


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    # The commands are imported only when run: a serving process doesn't hold them (nor httpx, which `send` uses).
    if args[:1] == ["send"]:
        from receiver import sample_sender

        return sample_sender.main(args[1:])
    if args[:1] == ["sources"]:
        from receiver.registry import commands

        return commands.main(args[1:], prog="python -m receiver sources")
    worker = _worker_args(args)
    if args and worker is None:
        print("usage: python -m receiver [send <source> ... | sources COMMAND ...]", file=sys.stderr)
        return 2
    if worker is not None and worker.cpu is not None:
        # Before librdkafka's threads start: they run on the worker's CPU too.
        os.sched_setaffinity(0, {worker.cpu})
    try:
        settings = load_settings()
    except ConfigError as exc:
        print(f"receiver: configuration error: {exc}", file=sys.stderr)
        return 2
    configure_logging(settings.log_level, settings.log_format)
    # aiokafka logs every (re)assignment and reconnect at INFO; ours say what matters.
    logging.getLogger("aiokafka").setLevel(max(logging.WARNING, logging.getLevelName(settings.log_level)))
    if worker is None and settings.workers > 1:
        try:
            sources = load_sources(os.environ, sources_file=settings.sources_file, tolerance_s=settings.tolerance_s)
            tracing_enabled(os.environ)  # a bad OTEL_* value stops start-up here, before any worker starts
            load_keyring(settings)  # so does a bad master key of the source registry
        except (ConfigError, ValueError) as exc:
            print(f"receiver: configuration error: {exc}", file=sys.stderr)
            return 2
        _log_sources(sorted(sources))
        return Supervisor(settings).run()
    # The `_created` series double every counter and no dashboard of ours reads them.
    disable_created_metrics()  # type: ignore[no-untyped-call]
    metrics_dir = os.environ.get(METRICS_DIR_ENV) if worker is not None else None
    # A worker's metrics go to the shared files in batches, not on every change (telemetry/multiprocess.py).
    batched = BatchedValues.install() if metrics_dir else None
    try:
        # Each worker process exports its own spans (an exporter's thread does not survive a fork).
        traces = tracing_from_env(os.environ)
        tracing, stop_tracing = traces if traces is not None else (None, None)
        app = create_app(
            settings, metrics_dir=Path(metrics_dir) if metrics_dir else None, batched=batched, tracing=tracing
        )
    except ConfigError as exc:
        print(f"receiver: configuration error: {exc}", file=sys.stderr)
        return 2
    if worker is None:
        _log_sources(sorted(app.webhooks.source_names))
    # Every request parses a JSON body into a tree of containers that refcounting frees; with the default
    # gen-0 threshold (700) the cycle collector ran every few requests. Start-up state is frozen out of its way.
    gc.collect()
    gc.freeze()
    gc.set_threshold(*_GC_THRESHOLDS)
    config = uvicorn.Config(
        app,
        host=settings.host,
        port=settings.port,
        loop="uvloop",
        # uvicorn's httptools protocol, with each response's head and body sent together (protocol.py).
        http=HttpProtocol,
        # One line per request costs more than the request; the metrics count them instead.
        access_log=False,
        # Nothing here reads the client address; X-Forwarded-* parsing would only cost time.
        proxy_headers=False,
        log_config=None,
        lifespan="on",
        timeout_graceful_shutdown=10,
    )
    server = uvicorn.Server(config)
    sockets = None if worker is None else [socket.socket(fileno=worker.listen_fd)]
    parent_fd = None if worker is None else worker.parent_fd
    try:
        with asyncio.Runner(loop_factory=config.get_loop_factory()) as runner:
            runner.run(_serve(server, sockets, parent_fd))
    finally:
        if stop_tracing is not None:
            stop_tracing()  # sends the spans still batched
    # uvicorn's code for "never started serving" (the lifespan or the bind failed), as `uvicorn.run` exits.
    return 0 if server.started else 3


async def _serve(server: uvicorn.Server, sockets: list[socket.socket] | None, parent_fd: int | None) -> None:
    if parent_fd is not None:
        asyncio.get_running_loop().add_reader(parent_fd, _stop_if_orphaned, server, parent_fd)
    await server.serve(sockets=sockets)


def _stop_if_orphaned(server: uvicorn.Server, parent_fd: int) -> None:
    if orphaned(parent_fd):
        asyncio.get_running_loop().remove_reader(parent_fd)
        logger.error("the supervisor is gone: stopping")
        server.should_exit = True


class _Worker(NamedTuple):
    listen_fd: int
    parent_fd: int
    cpu: int | None


def _worker_args(args: list[str]) -> _Worker | None:
    """The listening socket, the supervisor pipe and the CPU of `worker --listen-fd=F [--cpu=C] --parent-fd=P`;
    None for other arguments."""
    if len(args) not in (3, 4) or args[0] != "worker":
        return None
    options = dict(arg.removeprefix("--").partition("=")[::2] for arg in args[1:])
    if len(options) != len(args) - 1 or not options.keys() <= {"listen-fd", "parent-fd", "cpu"}:
        return None
    try:
        cpu = options.get("cpu")
        return _Worker(int(options["listen-fd"]), int(options["parent-fd"]), None if cpu is None else int(cpu))
    except (KeyError, ValueError):
        return None


def _log_sources(enabled: list[str]) -> None:
    if not enabled:
        logger.warning("no source is enabled: set WEBHOOK_SECRET_<SOURCE> (e.g. WEBHOOK_SECRET_GITHUB)")
    logger.info("sources enabled: %s", ", ".join(enabled) or "none")


if __name__ == "__main__":
    sys.exit(main())
