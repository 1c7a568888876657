"""`python -m bench.route [--tracing]`: the webhook route alone, in process, CPU microseconds per request.

No server, no network, no broker: the ASGI app is called directly with a signed GitHub delivery (a real
sample body, ~7 KB) and a publisher that acknowledges at once, so what is measured is the route's own work
(header checks, body read, HMAC, parse, envelope, record headers, metrics). It tells small costs on the
hot path apart, which `make bench` over HTTP can't: `--tracing` turns on OpenTelemetry spans (recorded,
exported nowhere), so tracing off and on can be compared, and the module runs unchanged against an older
checkout of the code to compare with it (`PYTHONPATH=<checkout> python -m bench.route`).
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import hmac
import statistics
import time
import uuid
from collections.abc import Sequence
from typing import Any

from prometheus_client import CollectorRegistry

from receiver.app import create_app
from receiver.settings import ReceiverSettings
from receiver.sources import load_sources

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


def _scope() -> dict[str, Any]:
    digest = hmac.new(SECRET.encode(), BODY, hashlib.sha256).hexdigest()
    headers = [
        (b"host", b"localhost"),
        (b"content-type", b"application/json"),
        (b"content-length", str(len(BODY)).encode()),
        (b"x-github-event", b"pull_request"),
        (b"x-github-delivery", str(uuid.uuid4()).encode()),
        (b"x-hub-signature-256", f"sha256={digest}".encode()),
        (b"user-agent", b"GitHub-Hookshot/bench"),
    ]
    return {"type": "http", "method": "POST", "path": "/webhooks/github", "headers": headers}


async def _run(requests: int, rounds: int, tracing: bool) -> list[float]:
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
    message = {"type": "http.request", "body": BODY, "more_body": False}
    statuses: list[int] = []

    async def receive() -> dict[str, Any]:
        return message

    async def send(event: dict[str, Any]) -> None:
        if event["type"] == "http.response.start":
            statuses.append(event["status"])

    scope = _scope()
    per_request_us = []
    for _ in range(rounds):
        statuses.clear()
        # CPU time of this process, not wall time: on a shared machine other processes' load stays out of it.
        started = time.process_time()
        for _ in range(requests):
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
    args = parser.parse_args(argv)
    rounds = asyncio.run(_run(args.requests, args.rounds, args.tracing))
    print(
        f"route, tracing {'on' if args.tracing else 'off'}: median {statistics.median(rounds):.1f} CPU us/request, "
        f"best {min(rounds):.1f} ({args.rounds} rounds of {args.requests})"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
