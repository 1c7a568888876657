"""`python -m bench.drain_worker TOPIC`: one consumer worker draining a benchmark topic as `github` events.

The same `Worker`, Redis store and payload validation as `python -m consumers`, pointed at a topic of the
benchmark's own (so earlier events on `webhooks.github` don't count) with the no-op handler of bench/noop.py.
Settings come from the environment as for `python -m consumers`; metrics on CONSUMER_METRICS_PORT.
"""

from __future__ import annotations

import asyncio
import signal
import sys

import redis.asyncio
from prometheus_client import CollectorRegistry

from bench.noop import registry
from consumers.__main__ import tune_gc
from consumers.idempotency import IdempotencyStore
from consumers.kafka import KafkaClient, ensure_topics
from consumers.metrics import ConsumerMetrics, serve
from consumers.settings import load_settings
from consumers.worker import Worker
from schemas.topics import GroupTopics


async def drain(topic: str) -> None:
    settings = load_settings()
    group = settings.consumer_group
    route = GroupTopics("github", topic, f"{topic}.{group}.retry", f"{topic}.{group}.dlq")
    await ensure_topics(settings, [route.topic, route.retry_topic, route.dlq_topic])
    metrics = ConsumerMetrics(CollectorRegistry())
    server, _ = serve(metrics.registry, settings.consumer_metrics_host, settings.consumer_metrics_port)
    client = redis.asyncio.Redis.from_url(settings.redis_url.get_secret_value())
    worker = Worker(
        settings=settings,
        kafka=KafkaClient(settings),
        store=IdempotencyStore(client),
        registry=registry,
        metrics=metrics,
        topics=[route],
    )
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGTERM, worker.stop)
    tune_gc()  # as `python -m consumers` does
    try:
        await worker.run()
    finally:
        await client.aclose()
        server.shutdown()


if __name__ == "__main__":
    asyncio.run(drain(sys.argv[1]))
