"""Publishing to Kafka: the `Publisher` protocol the route depends on, and the choice of client.

Every publisher runs its producer with `acks=all` and idempotence, so an acknowledged event is on every
in-sync replica and a retried send is never written twice. `publish` returns only once the broker has
acknowledged, and gives up after the publish timeout with `Unavailable` (the route answers 503 +
Retry-After). Publishers connect in the background: the receiver starts and answers (503 to webhooks,
`/readyz` not ready) while Kafka is unreachable, and becomes ready by itself when Kafka is back.

Two clients sit behind it, chosen by `RECEIVER_KAFKA_CLIENT`: `librdkafka` (confluent-kafka; default: its
batching and network I/O run in C threads, off the event loop that serves HTTP) and `aiokafka` (pure
Python, in the event loop). `make bench` measures both.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
from collections.abc import Awaitable, Callable, Collection, Sequence
from typing import Protocol

from receiver.settings import ReceiverSettings
from schemas import topics

# How the receiver's Kafka clients name themselves to the brokers (their logs, quotas and metrics).
CLIENT_ID = "webhooks-receiver"
# How long start-up waits for Kafka before serving anyway (503 to webhooks until it connects).
STARTUP_WAIT_S = 10.0
# Reconnect backoff while Kafka is unreachable, seconds.
CONNECT_BACKOFF_S = (0.5, 1.0, 2.0, 5.0)

RecordHeaders = Sequence[tuple[str, bytes]]

logger = logging.getLogger(__name__)


class Publisher(Protocol):
    """Where the receiver hands verified events."""

    @property
    def ready(self) -> bool:
        """True once connected to Kafka with the topics in place."""
        ...

    async def start(self) -> None: ...

    async def stop(self) -> None: ...

    async def publish(self, topic: str, key: bytes, value: bytes, headers: RecordHeaders) -> None:
        """Return once Kafka holds the record; raise `Unavailable` when it can't in time."""
        ...


def create_publisher(
    settings: ReceiverSettings, topics: Collection[str], *, produce_requests: Callable[[int], None] | None = None
) -> Publisher:
    """The publisher `settings.kafka_client` names, for these topics; `produce_requests(n)` is told of the produce
    requests sent since its last call, where the client reports them (librdkafka's statistics)."""
    if settings.kafka_client == "aiokafka":
        from receiver.publish.aiokafka import AiokafkaPublisher

        return AiokafkaPublisher(settings, topics)
    from receiver.publish.rdkafka import RdkafkaPublisher

    return RdkafkaPublisher(settings, topics, produce_requests=produce_requests)


def max_record_bytes(settings: ReceiverSettings) -> int:
    """The largest record the receiver can produce: the largest body in its envelope."""
    return topics.max_record_bytes(settings.max_body_bytes)


def delivery_timeout_ms(settings: ReceiverSettings) -> int:
    """How long the producer keeps trying a record: past the publish timeout the sender already has its
    503 and will retry, so not much longer (at least 10 s, to ride out a leader election)."""
    return max(settings.publish_timeout_ms * 4, 10_000)


async def keep_connecting(
    settings: ReceiverSettings, attempt: Callable[[], Awaitable[None]], refused: tuple[type[Exception], ...]
) -> None:
    """Run `attempt` (connect, create the topics) until it passes, backing off while it raises `refused`:
    Kafka may be down for longer than start-up waits, and the receiver serves 503s meanwhile."""
    for tries in itertools.count():
        try:
            await attempt()
        except refused as exc:
            delay = CONNECT_BACKOFF_S[min(tries, len(CONNECT_BACKOFF_S) - 1)]
            logger.warning(
                "Kafka at %s not ready (%s: %s); retrying in %.1fs",
                settings.kafka_bootstrap_servers,
                type(exc).__name__,
                exc,
                delay,
            )
            await asyncio.sleep(delay)
        else:
            logger.info("connected to Kafka at %s", settings.kafka_bootstrap_servers)
            return
