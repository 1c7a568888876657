"""A receiver and a consumer worker running together on loopback, wired to the real Kafka and Redis.

For the tests of what operators see: both `/metrics` endpoints are real HTTP servers, as Prometheus would
scrape them. The receiver's one source (`hmac`) publishes to a topic of the test's own, which the worker reads.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx
import orjson
import redis.asyncio
from prometheus_client import CollectorRegistry

from consumers.handlers import Context, Event
from consumers.idempotency import IdempotencyStore
from consumers.metrics import serve
from receiver.app import create_app
from receiver.settings import ReceiverSettings
from receiver.sources import Source
from receiver.verify import HmacScheme
from tests.integration.kafka_tools import serving
from tests.integration.workers import PARTITIONS, make_route, make_settings, running_worker
from tests.signing import hmac_headers

SECRET = "ops-secret"


@dataclass
class LiveStack:
    receiver_url: str
    consumer_metrics_url: str
    group: str
    http: httpx.AsyncClient
    handled: list[str]

    async def send(self, event_id: str, *, secret: str = SECRET) -> httpx.Response:
        """POST a signed generic-HMAC event to the receiver."""
        body = orjson.dumps({"id": event_id, "type": "order.created", "amount": 4200})
        return await self.http.post(
            f"{self.receiver_url}/webhooks/hmac", content=body, headers=hmac_headers(body, secret)
        )

    async def scrape(self) -> tuple[str, str]:
        """The text of the receiver's and the consumer's /metrics."""
        receiver = await self.http.get(f"{self.receiver_url}/metrics")
        consumer = await self.http.get(f"{self.consumer_metrics_url}/metrics")
        assert (receiver.status_code, consumer.status_code) == (200, 200)
        return receiver.text, consumer.text


@contextlib.asynccontextmanager
async def live_stack(kafka_bootstrap: str, redis_url: str, unique: str) -> AsyncIterator[LiveStack]:
    """Receiver (uvicorn, loopback) and one worker of group `ops-<unique>` with a handler that records ids."""
    group = f"ops-{unique}"
    settings = make_settings(kafka_bootstrap, redis_url, group)
    route = make_route("hmac", unique, group)
    handled: list[str] = []

    async def record(event: Event[Any], context: Context) -> None:
        handled.append(event.id)

    client = redis.asyncio.Redis.from_url(redis_url)
    receiver_settings = ReceiverSettings(kafka_bootstrap_servers=kafka_bootstrap, kafka_topic_partitions=PARTITIONS)
    sources = {"hmac": Source("hmac", HmacScheme(), (SECRET.encode(),), route.topic)}
    app = create_app(receiver_settings, sources=sources, registry=CollectorRegistry())
    try:
        async with (
            running_worker(settings, route, IdempotencyStore(client), record) as (running, _),
            serving(app) as url,
            httpx.AsyncClient(timeout=10) as http,
        ):
            server, _ = serve(running.metrics.registry, "127.0.0.1", 0)
            try:
                yield LiveStack(url, f"http://127.0.0.1:{server.server_port}", group, http, handled)
            finally:
                server.shutdown()
                server.server_close()
    finally:
        await client.aclose()
