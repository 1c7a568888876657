"""`python -m consumers`: one consumer-group member, configured from the environment.

Exit codes: 0 after a clean stop (SIGTERM, SIGINT), 2 for a configuration error (one line on stderr).
"""

from __future__ import annotations

import asyncio
import logging
import signal
import sys

import redis.asyncio
from prometheus_client import CollectorRegistry

from consumers.errors import ConfigError
from consumers.idempotency import IdempotencyStore
from consumers.kafka import KafkaClient, ensure_topics
from consumers.metrics import ConsumerMetrics, serve
from consumers.registry import Registry, load_handlers
from consumers.routing import Route
from consumers.settings import Settings, load_settings
from consumers.worker import Worker

log = logging.getLogger(__name__)


async def run(settings: Settings, handlers: Registry) -> None:
    """Create the topics, serve the metrics and run a worker until SIGTERM or SIGINT."""
    metrics = ConsumerMetrics(CollectorRegistry())
    server, _ = serve(metrics.registry, settings.consumer_metrics_host, settings.consumer_metrics_port)
    log.info("metrics on http://%s:%d/metrics", settings.consumer_metrics_host, settings.consumer_metrics_port)
    client = redis.asyncio.Redis.from_url(settings.redis_url.get_secret_value())
    try:
        worker = Worker(
            settings=settings,
            kafka=KafkaClient(settings),
            store=IdempotencyStore(client),
            registry=handlers,
            metrics=metrics,
        )
        await ensure_topics(settings, _all_topics(settings))
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, worker.stop)
        await worker.run()
    finally:
        await client.aclose()
        server.shutdown()


def _all_topics(settings: Settings) -> list[str]:
    routes = [Route.for_provider(p, settings.consumer_group) for p in settings.consumer_providers]
    return [topic for route in routes for topic in (route.topic, route.retry_topic, route.dlq_topic)]


def main() -> int:
    """Run the process; the exit code."""
    try:
        settings = load_settings()
    except ConfigError as exc:
        print(f"consumers: {exc}", file=sys.stderr)
        return 2
    logging.basicConfig(level=settings.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    # aiokafka logs every (re)assignment and reconnect at INFO; ours say what matters.
    logging.getLogger("aiokafka").setLevel(max(logging.WARNING, logging.getLevelName(settings.log_level)))
    try:
        handlers = load_handlers(settings.consumer_handlers)
    except ConfigError as exc:
        print(f"consumers: {exc}", file=sys.stderr)
        return 2
    if not len(handlers):
        log.warning("no handlers registered (CONSUMER_HANDLERS): every event is marked done without work")
    asyncio.run(run(settings, handlers))
    return 0


if __name__ == "__main__":
    sys.exit(main())
