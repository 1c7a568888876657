"""The receiver's ASGI app: the lean webhook route in front, FastAPI for everything else.

create_app(settings, sources=..., publisher=...)  ->  Receiver
    /webhooks/*   ->  routes.WebhookRoute (bare ASGI: the hot path)
    anything else ->  FastAPI: /healthz, /readyz, /metrics, /docs, /openapi.json, and the lifespan
    the lifespan   ->  the publisher, and the run-time source registry's follower where a master key is set
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.multiprocess import MultiProcessCollector
from starlette.types import Receive, Scope, Send

from receiver.errors import RequestError
from receiver.metrics import ReceiverMetrics
from receiver.publish import Publisher, create_publisher
from receiver.registry.follower import RegistryFollower
from receiver.registry.keyring import Keyring, load_keyring
from receiver.routes import PATH_PREFIX, WebhookRoute
from receiver.settings import ReceiverSettings
from receiver.sources import Source, load_sources
from receiver.tracing import Tracing
from telemetry.multiprocess import BatchedValues


class Receiver:
    """The ASGI entry point: sends `/webhooks/*` to the bare route and the rest to FastAPI."""

    def __init__(self, webhooks: WebhookRoute, api: FastAPI) -> None:
        self.webhooks = webhooks
        self.api = api

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"].startswith(PATH_PREFIX):
            await self.webhooks(scope, receive, send)
        else:
            await self.api(scope, receive, send)


def create_app(
    settings: ReceiverSettings,
    *,
    sources: Mapping[str, Source] | None = None,
    publisher: Publisher | None = None,
    registry: CollectorRegistry | None = None,
    clock: Callable[[], float] | None = None,
    metrics_dir: Path | None = None,
    batched: BatchedValues | None = None,
    tracing: Tracing | None = None,
    keyring: Keyring | None = None,
) -> Receiver:
    """Build the receiver.

    Args:
        settings: the process settings.
        sources: the enabled sources; default: from the environment and `settings.sources_file`.
        publisher: where events go; default: `create_publisher` (RECEIVER_KAFKA_CLIENT) for the sources' topics.
        registry: the Prometheus registry for this app's metrics; default: a new one.
        clock: seconds since the epoch, for timestamp checks; default `time.time`.
        metrics_dir: the directory where every worker of a multi-process receiver keeps its metrics
            (PROMETHEUS_MULTIPROC_DIR, `supervisor.py`): `/metrics` then adds up all of them.
        batched: this process's metric values when they are written to `metrics_dir` in batches
            (`telemetry.multiprocess`): flushed every `FLUSH_S` while the app runs, before each `/metrics` and
            at the end of the lifespan.
        tracing: OpenTelemetry spans of each webhook request (`receiver.tracing.tracing_from_env`); default off.
        keyring: the master keys of the run-time source registry; default: from `settings` (no registry when
            no master key is set).
    """
    if sources is None:
        sources = load_sources(os.environ, sources_file=settings.sources_file, tolerance_s=settings.tolerance_s)
    registry = registry if registry is not None else CollectorRegistry()
    metrics = ReceiverMetrics(registry)
    if publisher is None:
        topics = {source.topic for source in sources.values()}
        publisher = create_publisher(settings, topics, produce_requests=metrics.produce_requests.inc)
    scraped = registry
    if metrics_dir is not None:
        scraped = CollectorRegistry()
        MultiProcessCollector(scraped, path=str(metrics_dir))  # type: ignore[no-untyped-call]
    active_publisher = publisher
    if keyring is None:
        keyring = load_keyring(settings)
    follower: RegistryFollower | None = None

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        await active_publisher.start()
        if follower is not None:
            follower.start()
        flushing = asyncio.create_task(batched.every(), name="metrics-flush") if batched is not None else None
        try:
            yield
        finally:
            if follower is not None:
                await follower.stop()
            await active_publisher.stop()
            if batched is not None and flushing is not None:
                flushing.cancel()
                await asyncio.gather(flushing, return_exceptions=True)
                batched.flush()  # what the last requests counted

    api = FastAPI(
        title="Webhook receiver",
        summary="Verifies provider webhooks and publishes them to Kafka.",
        version="0.1.0",
        lifespan=lifespan,
    )

    @api.get("/healthz", summary="The process is alive")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @api.get(
        "/readyz",
        summary="Connected to Kafka and able to accept webhooks",
        responses={503: {"description": "Not connected to Kafka yet, or the source registry not read to its end"}},
    )
    async def readyz() -> JSONResponse:
        if active_publisher.ready and (follower is None or follower.ready):
            return JSONResponse({"status": "ready"})
        return JSONResponse({"status": "not_ready"}, status_code=503)

    @api.get("/metrics", summary="Prometheus metrics", response_class=Response)
    async def metrics_endpoint() -> Response:
        if batched is not None:
            batched.flush()  # this process's counts are current; the others' at most FLUSH_S late
        return Response(generate_latest(scraped), media_type=CONTENT_TYPE_LATEST)

    api.openapi = _openapi_with_webhook_route(api, sorted(sources))  # type: ignore[method-assign]

    webhooks = WebhookRoute(
        sources=sources,
        publisher=active_publisher,
        metrics=metrics,
        max_body_bytes=settings.max_body_bytes,
        body_timeout_s=settings.body_timeout_s,
        max_header_bytes=settings.max_header_bytes,
        max_pending_bytes=settings.max_pending_bytes,
        retry_after_s=settings.retry_after_s,
        clock=clock if clock is not None else time.time,
        tracing=tracing,
        processes=settings.workers,
    )
    if keyring is not None:
        follower = RegistryFollower(
            settings,
            keyring,
            webhooks,
            metrics,
            static_names=frozenset(sources),
            static_topics=frozenset(source.topic for source in sources.values()),
        )
    return Receiver(webhooks, api)


def _openapi_with_webhook_route(api: FastAPI, source_names: list[str]) -> Callable[[], dict[str, Any]]:
    """FastAPI's schema plus the webhook route, which is served outside FastAPI (see routes.py)."""
    generate = api.openapi

    def openapi() -> dict[str, Any]:
        if api.openapi_schema is not None:
            return api.openapi_schema
        schema = generate()
        schema["paths"]["/webhooks/{source}"] = {
            "post": {
                "summary": "Receive a webhook",
                "description": (
                    "The body is read raw and verified as the source's provider signs it, then published "
                    "to Kafka. 202 only once Kafka has acknowledged the event."
                ),
                "operationId": "receive_webhook",
                "parameters": [
                    {
                        "name": "source",
                        "in": "path",
                        "required": True,
                        "schema": {"type": "string", "examples": source_names},
                    }
                ],
                "requestBody": {
                    "required": True,
                    "content": {"application/json": {"schema": {"type": "object"}}},
                },
                "responses": {"202": _ACCEPTED, **_refusals()},
            }
        }
        api.openapi_schema = schema
        return schema

    return openapi


_ACCEPTED = {
    "description": "Verified and acknowledged by Kafka",
    "content": {
        "application/json": {
            "schema": {
                "type": "object",
                "properties": {"status": {"const": "accepted"}, "id": {"type": "string"}},
            }
        }
    },
}


def _refusals() -> dict[str, Any]:
    """The route's refusals by status, read from the `RequestError` tree: each error code under its status,
    described by the docstring of the first class that answers with it."""
    described: dict[int, dict[str, str]] = {}
    classes: list[type[RequestError]] = RequestError.__subclasses__()
    while classes:  # breadth first: a class before the subclasses that share its code
        cls, *classes = classes
        described.setdefault(cls.status_code, {}).setdefault(cls.code, _first_line(cls.__doc__))
        classes += cls.__subclasses__()
    responses = {}
    for status, codes in sorted(described.items()):
        schema = {"type": "object", "properties": {"error": {"type": "string", "enum": list(codes)}}}
        responses[str(status)] = {
            "description": " ".join(codes.values()),
            "content": {"application/json": {"schema": schema}},
        }
    return responses


def _first_line(doc: str | None) -> str:
    return (doc or "").strip().split("\n\n")[0].replace("\n", " ").replace("`", "")
