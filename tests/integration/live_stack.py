"""A receiver and a consumer worker running together on loopback, wired to the real Kafka and Redis.

For the tests of what operators see: both `/metrics` endpoints are real HTTP servers, as Prometheus would
scrape them. The receiver's one source (`hmac`) publishes to a topic of the test's own, which the worker reads.
"""

from __future__ import annotations

import asyncio
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
from consumers.kafka import ensure_topics
from consumers.metrics import ConsumerMetrics, serve
from consumers.registry import Registry
from consumers.settings import Settings
from consumers.worker import Worker
from receiver.app import create_app
from receiver.settings import ReceiverSettings
from receiver.sources import Source
from receiver.verify import HmacScheme
from schemas.topics import GroupTopics
from tests.integration.kafka_tools import serving
from tests.signing import hmac_headers

SECRET = "ops-secret"
PARTITIONS = 2


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
    base = f"test.{unique}.hmac"
    route = GroupTopics("hmac", base, f"{base}.{group}.retry", f"{base}.{group}.dlq")
    settings = Settings(
        kafka_bootstrap_servers=kafka_bootstrap,
        kafka_topic_partitions=PARTITIONS,
        redis_url=redis_url,
        consumer_group=group,
        consumer_handlers=(),
        consumer_handler_timeout_s=5,
        consumer_shutdown_grace_s=5,
    )
    await ensure_topics(settings, [route.topic, route.retry_topic, route.dlq_topic])

    handled: list[str] = []
    handlers = Registry()

    @handlers.handler("hmac", "*")
    async def record(event: Event[Any], context: Context) -> None:
        handled.append(event.id)

    metrics = ConsumerMetrics(CollectorRegistry())
    server, _ = serve(metrics.registry, "127.0.0.1", 0)
    client = redis.asyncio.Redis.from_url(redis_url)
    worker = Worker.from_settings(settings, handlers, store=IdempotencyStore(client), metrics=metrics, topics=[route])
    task = asyncio.create_task(worker.run())
    receiver_settings = ReceiverSettings(kafka_bootstrap_servers=kafka_bootstrap, kafka_topic_partitions=PARTITIONS)
    sources = {"hmac": Source("hmac", HmacScheme(), (SECRET.encode(),), route.topic)}
    app = create_app(receiver_settings, sources=sources, registry=CollectorRegistry())
    try:
        async with serving(app) as url, httpx.AsyncClient(timeout=10) as http:
            yield LiveStack(url, f"http://127.0.0.1:{server.server_port}", group, http, handled)
    finally:
        worker.stop()
        await asyncio.wait_for(task, 20)
        server.shutdown()
        server.server_close()
        await client.aclose()
