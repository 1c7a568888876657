"""The aiokafka producer behind `Publisher` (`RECEIVER_KAFKA_CLIENT=aiokafka`): pure Python, in the event loop.

Kept beside the librdkafka one so the two can be measured side by side (`make bench`) and as a fallback
where the librdkafka wheel can't be installed. The only module of the receiver importing aiokafka.
"""

from __future__ import annotations

import asyncio
import logging
import ssl
from collections.abc import Collection
from typing import Any

from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType
from aiokafka.errors import KafkaError

from receiver.errors import Unavailable
from receiver.publish import (
    CONNECT_BACKOFF_S,
    STARTUP_WAIT_S,
    TOPIC_ALREADY_EXISTS,
    RecordHeaders,
    delivery_timeout_ms,
    max_message_bytes,
    max_record_bytes,
)
from receiver.settings import ReceiverSettings
from schemas.topics import min_insync_replicas

logger = logging.getLogger(__name__)


def kafka_client_options(settings: ReceiverSettings) -> dict[str, Any]:
    """Connection options shared by the producer and the admin client (SASL/SSL for real clusters)."""
    options: dict[str, Any] = {
        "bootstrap_servers": settings.kafka_bootstrap_servers,
        "security_protocol": settings.kafka_security_protocol,
    }
    if settings.kafka_security_protocol in {"SSL", "SASL_SSL"}:
        options["ssl_context"] = ssl.create_default_context(
            cafile=str(settings.kafka_ssl_cafile) if settings.kafka_ssl_cafile else None
        )
    if settings.kafka_sasl_mechanism is not None:
        options["sasl_mechanism"] = settings.kafka_sasl_mechanism
        options["sasl_plain_username"] = settings.kafka_sasl_username
        password = settings.kafka_sasl_password
        options["sasl_plain_password"] = password.get_secret_value() if password else None
    return options


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
        attempt = 0
        while True:
            producer = self._new_producer()
            try:
                await producer.start()
                await self._ensure_topics()
            except (KafkaError, OSError) as exc:
                await producer.stop()
                delay = CONNECT_BACKOFF_S[min(attempt, len(CONNECT_BACKOFF_S) - 1)]
                attempt += 1
                logger.warning(
                    "Kafka at %s not ready (%s: %s); retrying in %.1fs",
                    self._settings.kafka_bootstrap_servers,
                    type(exc).__name__,
                    exc,
                    delay,
                )
                await asyncio.sleep(delay)
                continue
            self._producer = producer
            logger.info("connected to Kafka at %s", self._settings.kafka_bootstrap_servers)
            return

    def _new_producer(self) -> AIOKafkaProducer:
        return AIOKafkaProducer(
            **kafka_client_options(self._settings),
            client_id="webhooks-receiver",
            acks="all",
            enable_idempotence=True,
            linger_ms=self._settings.kafka_linger_ms,
            # aiokafka keeps one produce request in flight per broker, so records per request is the
            # throughput: at the default 16 KiB, an 8 KiB event filled a batch on its own.
            max_batch_size=self._settings.kafka_batch_bytes,
            max_request_size=max_record_bytes(self._settings),
            request_timeout_ms=delivery_timeout_ms(self._settings),
        )

    async def _ensure_topics(self) -> None:
        """Create the sources' topics where missing, sized for the largest accepted body."""
        if not self._topics:
            return
        admin = AIOKafkaAdminClient(**kafka_client_options(self._settings), client_id="webhooks-receiver-admin")
        await admin.start()
        try:
            size = max_message_bytes(self._settings)
            response = await admin.create_topics(
                [
                    NewTopic(
                        name,
                        self._settings.kafka_topic_partitions,
                        self._settings.kafka_replication_factor,
                        topic_configs={
                            _MAX_MESSAGE_BYTES: str(size),
                            "min.insync.replicas": str(min_insync_replicas(self._settings.kafka_replication_factor)),
                        },
                    )
                    for name in self._topics
                ]
            )
            existing = []
            for topic, code, message in response.topic_errors:
                if code == 0:
                    logger.info("created topic %s", topic)
                elif code == TOPIC_ALREADY_EXISTS:
                    existing.append(topic)
                else:
                    raise _TopicError(f"creating topic {topic} failed: error {code} {message}")
            if existing:
                await _fit_message_size(admin, existing, size)
        finally:
            await admin.close()


async def _fit_message_size(admin: AIOKafkaAdminClient, topics: list[str], size: int) -> None:
    # A topic created before (by hand, by an older version) may hold less than a body this receiver accepts:
    # every such event would get a 503 for ever.
    [response] = await admin.describe_configs([ConfigResource(ConfigResourceType.TOPIC, name) for name in topics])
    for code, message, _, topic, entries in response.resources:
        if code:
            raise _TopicError(f"describing topic {topic} failed: error {code} {message}")
        own = {name: value for name, value, _, source, *_ in entries if source == _DYNAMIC_TOPIC_CONFIG}
        current = next(int(value) for name, value, *_ in entries if name == _MAX_MESSAGE_BYTES)
        if current >= size:
            continue
        # AlterConfigs replaces every setting of the topic: its own ones go along, so only this one changes.
        await admin.alter_configs(
            [ConfigResource(ConfigResourceType.TOPIC, topic, {**own, _MAX_MESSAGE_BYTES: str(size)})]
        )
        logger.warning(
            "topic %s held records of up to %d bytes; raised to %d to fit WEBHOOK_MAX_BODY_BYTES", topic, current, size
        )


# Where a topic's setting comes from in a DescribeConfigs answer: set on the topic itself.
_DYNAMIC_TOPIC_CONFIG = 1
_MAX_MESSAGE_BYTES = "max.message.bytes"


class _TopicError(KafkaError):  # type: ignore[misc]
    """A topic could not be created; retried like an unreachable broker."""
