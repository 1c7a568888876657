"""The aiokafka producer behind `Publisher` (`RECEIVER_KAFKA_CLIENT=aiokafka`): pure Python, in the event loop.

Kept beside the librdkafka one so the two can be measured side by side (`make bench`). Topics are made as
every process makes them (`kafkaconfig.topics`, with librdkafka's admin client). The only module of the
receiver importing aiokafka.
"""

from __future__ import annotations

import asyncio
from collections.abc import Collection

from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError

from kafkaconfig.clients import aiokafka_compression, aiokafka_options
from kafkaconfig.topics import TopicError, ensure_topics
from receiver.errors import Unavailable
from receiver.publish import (
    CLIENT_ID,
    STARTUP_WAIT_S,
    RecordHeaders,
    delivery_timeout_ms,
    keep_connecting,
    max_record_bytes,
)
from receiver.settings import ReceiverSettings

# What a connection attempt raises while Kafka is unreachable or not ready: retried with a backoff.
_REFUSED = (KafkaError, OSError, TopicError)


class AiokafkaPublisher:
    """The aiokafka producer, connected in the background, plus topic creation at start-up."""

    def __init__(
        self, settings: ReceiverSettings, topics: Collection[str], *, startup_wait_s: float = STARTUP_WAIT_S
    ) -> None:
        self._settings = settings
        self._startup_wait_s = startup_wait_s
        self._topics = sorted(set(topics))
        self._timeout_s = settings.publish_timeout_ms / 1000
        self._producer: AIOKafkaProducer | None = None
        self._connecting: asyncio.Task[None] | None = None

    @property
    def ready(self) -> bool:
        return self._producer is not None

    async def start(self) -> None:
        """Connect, waiting a bounded time; past it, go on connecting in the background."""
        self._connecting = asyncio.create_task(self._connect(), name="kafka-connect")
        await asyncio.wait({self._connecting}, timeout=self._startup_wait_s)

    async def stop(self) -> None:
        """Flush what is in flight and close."""
        if self._connecting is not None:
            self._connecting.cancel()
            await asyncio.gather(self._connecting, return_exceptions=True)
        if self._producer is not None:
            producer, self._producer = self._producer, None
            await producer.stop()

    async def publish(self, topic: str, key: bytes, value: bytes, headers: RecordHeaders) -> None:
        producer = self._producer
        if producer is None:
            raise Unavailable("not connected to Kafka")
        try:
            async with asyncio.timeout(self._timeout_s):
                delivery = await producer.send(topic, value, key=key, headers=list(headers))
                await delivery
        except TimeoutError:
            raise Unavailable(f"Kafka did not acknowledge within {self._settings.publish_timeout_ms} ms") from None
        except KafkaError as exc:
            raise Unavailable(f"Kafka refused the record: {type(exc).__name__}") from exc

    async def _connect(self) -> None:
        await keep_connecting(self._settings, self._start_producer, _REFUSED)

    async def _start_producer(self) -> None:
        producer = self._new_producer()
        try:
            await producer.start()
            await ensure_topics(self._settings, self._topics, client_id=CLIENT_ID)
        except _REFUSED:
            await producer.stop()
            raise
        self._producer = producer

    def _new_producer(self) -> AIOKafkaProducer:
        return AIOKafkaProducer(
            **aiokafka_options(self._settings),
            client_id=CLIENT_ID,
            acks="all",
            enable_idempotence=True,
            linger_ms=self._settings.kafka_linger_ms,
            # aiokafka keeps one produce request in flight per broker, so records per request is the
            # throughput: at the default 16 KiB, an 8 KiB event filled a batch on its own.
            max_batch_size=self._settings.kafka_batch_bytes,
            max_request_size=max_record_bytes(self._settings),
            compression_type=aiokafka_compression(self._settings),
            request_timeout_ms=delivery_timeout_ms(self._settings),
        )
