"""`python -m bench.route [--tracing]`: the webhook route alone, in process, CPU microseconds per request.

No server, no network, no broker: the ASGI app is called directly with a signed GitHub delivery (a real
sample body, ~7 KB) and a publisher that acknowledges at once, so what is measured is the route's own work
(header checks, body read, HMAC, parse, envelope, record headers, metrics). It tells small costs on the
hot path apart, which `make bench` over HTTP can't: `--tracing` turns on OpenTelemetry spans (recorded,
exported nowhere), so tracing off and on can be compared, and the module runs unchanged against an older
checkout of the code to compare with it (`PYTHONPATH=<checkout> python -m bench.route`). `--sources N` puts
N - 1 more sources beside the measured one (the run-time registry's case): the lookup must not notice them.
`--corpus` sends the real GitHub samples of `tests/samples` in turn (10 KB on average, hundreds of JSON values
each) instead of the one synthetic body, whose JSON is mostly one long string: what parsing a body costs shows.
`--workers` keeps the metrics as a worker of `RECEIVER_WORKERS=N` does (prometheus_client's multiprocess mode, in
a temporary directory, the values written in batches); `PROMETHEUS_MULTIPROC_DIR=<dir>` alone gives multiprocess
mode with a write on every change, as workers had it before.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import hashlib
import hmac
import os
import statistics
import tempfile
import time
import uuid
from collections.abc import Sequence
from typing import Any

from prometheus_client import CollectorRegistry

from bench.corpus import github_samples
from receiver.app import create_app
from receiver.settings import ReceiverSettings
from receiver.sources import load_sources, registry_source
from telemetry.multiprocess import BatchedValues

SECRET = "bench-secret"  # noqa: S105 (signs the benchmark's own requests)
BODY = (
    b'{"action":"opened","number":7,"pull_request":{"id":1,"title":"'
    + b"x" * 6000
    + b'"},"repository":{"id":1,"name":"api","full_name":"acme/api"},"sender":{"login":"octo","id":2}}'
)


class _Acknowledging:
    ready = True

    async def start(self) -> None:
        return None

    async def stop(self) -> None:
        return None

    async def publish(self, topic: str, key: bytes, value: bytes, headers: Sequence[tuple[str, bytes]]) -> None:
        return None


def _scope(event: str, body: bytes) -> dict[str, Any]:
    digest = hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
    headers = [
        (b"host", b"localhost"),
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode()),
        (b"x-github-event", event.encode()),
        (b"x-github-delivery", str(uuid.uuid4()).encode()),
        (b"x-hub-signature-256", f"sha256={digest}".encode()),
        (b"user-agent", b"GitHub-Hookshot/bench"),
    ]
    return {"type": "http", "method": "POST", "path": "/webhooks/github", "headers": headers}


async def _run(requests: int, rounds: int, tracing: bool, served: int = 1, corpus: bool = False) -> list[float]:
    extra: dict[str, Any] = {}
    if tracing:
        from opentelemetry.sdk.trace import TracerProvider

        from receiver.tracing import Tracing

        extra["tracing"] = Tracing(TracerProvider().get_tracer("bench"))
    sources = load_sources({"WEBHOOK_SECRET_GITHUB": SECRET}, sources_file=None, tolerance_s=300)
    app = create_app(
        ReceiverSettings(), sources=sources, publisher=_Acknowledging(), registry=CollectorRegistry(), **extra
    )
    route = app.webhooks
    for n in range(served - 1):
        # Registry sources beside the measured one, as `--sources` asks: the lookup must not notice them.
        route.put(registry_source(f"src-{n:05d}", provider="github", secrets=(b"other",), tolerance_s=300))
    bodies = github_samples() if corpus else [("pull_request", BODY)]
    cases = [(_scope(e, body), {"type": "http.request", "body": body, "more_body": False}) for e, body in bodies]
    # Start-up state out of the collector's way, as the receiver's __main__ and registry follower do.
    gc.collect()
    gc.freeze()
    message = cases[0][1]
    statuses: list[int] = []

    async def receive() -> dict[str, Any]:
        return message

    async def send(event: dict[str, Any]) -> None:
        if event["type"] == "http.response.start":
            statuses.append(event["status"])

    per_request_us = []
    for _ in range(rounds):
        statuses.clear()
        # CPU time of this process, not wall time: on a shared machine other processes' load stays out of it.
        started = time.process_time()
        for n in range(requests):
            scope, message = cases[n % len(cases)]
            await route(scope, receive, send)  # type: ignore[arg-type]
            # Let the loop run, as a server's would: it clears the cancelled body-timeout timers.
            await asyncio.sleep(0)
        per_request_us.append((time.process_time() - started) / requests * 1e6)
        if set(statuses) != {202}:
            raise SystemExit(f"bench.route: the route answered {sorted(set(statuses))}, not 202")
    return per_request_us


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.route", description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=5000, help="requests per round (default 5000)")
    parser.add_argument("--rounds", type=int, default=9, help="rounds; the median and best are reported")
    parser.add_argument("--tracing", action="store_true", help="OpenTelemetry spans on (recorded, not exported)")
    parser.add_argument("--sources", type=int, default=1, help="sources the route serves (default 1)")
    parser.add_argument("--workers", action="store_true", help="metrics as a RECEIVER_WORKERS worker keeps them")
    parser.add_argument("--corpus", action="store_true", help="the real GitHub samples in turn, not one synthetic body")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="bench-route-metrics-") as metrics_dir:
        if args.workers:
            os.environ["PROMETHEUS_MULTIPROC_DIR"] = metrics_dir
            BatchedValues.install()
        rounds = asyncio.run(_run(args.requests, args.rounds, args.tracing, args.sources, args.corpus))
    print(
        f"route{', as a worker' if args.workers else ''}, {args.sources} sources, "
        f"{'the GitHub samples' if args.corpus else 'one synthetic body'}, "
        f"tracing {'on' if args.tracing else 'off'}: "
        f"median {statistics.median(rounds):.1f} CPU us/request, best {min(rounds):.1f} "
        f"({args.rounds} rounds of {args.requests})"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
