"""Publishing to Kafka: the receiver's only aiokafka import, behind the small `Publisher` protocol.

The producer runs with `acks=all` and idempotence, so an acknowledged event is on every in-sync replica
and a retried send is never written twice. `publish` returns only once the broker has acknowledged, and
gives up after the publish timeout with `Unavailable` (the route answers 503 + Retry-After).

The producer connects in the background: the receiver starts and answers (503 to webhooks, `/readyz`
not ready) while Kafka is unreachable, and becomes ready by itself when Kafka is back.
"""

from __future__ import annotations

import asyncio
import logging
import ssl
from collections.abc import Collection, Sequence
from typing import Any, Protocol

from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import KafkaError

from receiver.errors import Unavailable
from receiver.settings import ReceiverSettings

logger = logging.getLogger(__name__)

# Kafka's error code for "topic already exists", which creating topics at start-up expects.
_TOPIC_ALREADY_EXISTS = 36
# Room for the envelope's own fields and kept headers around the largest accepted body.
_ENVELOPE_OVERHEAD_BYTES = 64 * 1024
# How long start-up waits for Kafka before serving anyway (503 to webhooks until it connects).
_STARTUP_WAIT_S = 10.0
# Reconnect backoff while Kafka is unreachable, seconds.
_CONNECT_BACKOFF_S = (0.5, 1.0, 2.0, 5.0)

RecordHeaders = Sequence[tuple[str, bytes]]


class Publisher(Protocol):
    """Where the receiver hands verified events."""

    @property
    def ready(self) -> bool:
        """True while connected to Kafka and able to publish."""
        ...

    async def start(self) -> None: ...

    async def stop(self) -> None: ...

    async def publish(self, topic: str, key: bytes, value: bytes, headers: RecordHeaders) -> None:
        """Return once Kafka holds the record; raise `Unavailable` when it can't in time."""
        ...


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


class KafkaPublisher:
    """The aiokafka producer, connected in the background, plus topic creation at start-up."""

    def __init__(
        self, settings: ReceiverSettings, topics: Collection[str], *, startup_wait_s: float = _STARTUP_WAIT_S
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
                delay = _CONNECT_BACKOFF_S[min(attempt, len(_CONNECT_BACKOFF_S) - 1)]
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
            max_request_size=self._settings.max_body_bytes + _ENVELOPE_OVERHEAD_BYTES,
            # Past our own publish timeout the sender has had its 503; don't hold the record much longer.
            request_timeout_ms=max(self._settings.publish_timeout_ms * 4, 10_000),
        )

    async def _ensure_topics(self) -> None:
        """Create the sources' topics where missing, sized for the largest accepted body."""
        if not self._topics:
            return
        admin = AIOKafkaAdminClient(**kafka_client_options(self._settings), client_id="webhooks-receiver-admin")
        await admin.start()
        try:
            max_message = str(self._settings.max_body_bytes + _ENVELOPE_OVERHEAD_BYTES)
            response = await admin.create_topics(
                [
                    NewTopic(
                        name,
                        self._settings.kafka_topic_partitions,
                        self._settings.kafka_replication_factor,
                        topic_configs={"max.message.bytes": max_message},
                    )
                    for name in self._topics
                ]
            )
        finally:
            await admin.close()
        for topic, code, message in response.topic_errors:
            if code == 0:
                logger.info("created topic %s", topic)
            elif code != _TOPIC_ALREADY_EXISTS:
                raise _TopicError(f"creating topic {topic} failed: error {code} {message}")


class _TopicError(KafkaError):  # type: ignore[misc]
    """A topic could not be created; retried like an unreachable broker."""
