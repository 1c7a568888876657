"""How every webhooks topic is made, whichever process makes it.

The receiver creates its sources' event topics at start, the consumers their event, retry and dead-letter
topics; a consumer may start first. So both go through `ensure_topics`: a topic gets the same partitions,
replicas and configuration (`topic_config`) whoever created it, and an existing topic that holds smaller
records than the largest accepted body is raised to fit it, keeping its other settings.

Both processes use librdkafka's admin client for this, also the ones that produce with aiokafka: it alters
one setting of a topic (IncrementalAlterConfigs), where aiokafka can only rewrite all of them from a
description the broker may serve stale for a moment.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Iterable

from confluent_kafka import KafkaError, KafkaException
from confluent_kafka.admin import AdminClient
from confluent_kafka.admin._config import AlterConfigOpType, ConfigEntry, ConfigResource  # no __all__ upstream
from confluent_kafka.admin._resource import ResourceType
from confluent_kafka.cimpl import NewTopic

from kafkaconfig.clients import librdkafka_config
from kafkaconfig.settings import KafkaSettings
from schemas.topics import DLQ_RETENTION_MS, is_dlq_topic, max_message_bytes, min_insync_replicas

log = logging.getLogger(__name__)

MAX_MESSAGE_BYTES = "max.message.bytes"
MIN_INSYNC_REPLICAS = "min.insync.replicas"
RETENTION_MS = "retention.ms"
# Bounds on each admin request, seconds.
ADMIN_TIMEOUT_S = 5.0
# What a broker answers about a topic created moments ago (KRaft hands the controller's metadata on to the brokers
# after CreateTopics returns), and how soon to ask again, seconds.
NOT_KNOWN_YET = frozenset({KafkaError.UNKNOWN_TOPIC_OR_PART, KafkaError._UNKNOWN_TOPIC, KafkaError._UNKNOWN_PARTITION})
ASK_AGAIN_S = 0.05


class TopicError(Exception):
    """Kafka did not create, describe or resize a topic (unreachable, unauthorised, ...); the message names the
    topic and Kafka's error, and callers retry it like an unreachable broker."""


def topic_config(settings: KafkaSettings, topic: str) -> dict[str, str]:
    """The configuration a topic is created with: records up to the largest body (and a full producer batch),
    two copies behind every ack from three replicas up, and dead letters kept `DLQ_RETENTION_MS`."""
    config = {
        MAX_MESSAGE_BYTES: str(max_message_bytes(settings.max_body_bytes, settings.kafka_batch_bytes)),
        MIN_INSYNC_REPLICAS: str(min_insync_replicas(settings.kafka_replication_factor)),
    }
    if is_dlq_topic(topic):
        config[RETENTION_MS] = str(DLQ_RETENTION_MS)
    return config


async def ensure_topics(settings: KafkaSettings, topics: Iterable[str], *, client_id: str = "webhooks-admin") -> None:
    """Create the topics that don't exist yet (`topic_config`), and raise the `max.message.bytes` of existing ones
    that hold less; with no topics, only check that Kafka answers.

    Raises:
        TopicError: Kafka did not answer in time, or refused a topic.
    """
    names = list(dict.fromkeys(topics))
    admin = AdminClient(librdkafka_config(settings, client_id=client_id))
    try:
        if not names:
            await asyncio.to_thread(admin.list_topics, timeout=ADMIN_TIMEOUT_S)
            return
        existing = await _create(admin, settings, names)
        if existing:
            await _fit_message_size(
                admin, existing, max_message_bytes(settings.max_body_bytes, settings.kafka_batch_bytes)
            )
    except KafkaException as exc:
        raise TopicError(f"Kafka at {settings.kafka_bootstrap_servers}: {_reason(exc)}") from exc


async def _create(admin: AdminClient, settings: KafkaSettings, names: list[str]) -> list[str]:
    """Create what is missing; the topics that existed already."""
    futures = admin.create_topics(
        [
            NewTopic(
                name,
                num_partitions=settings.kafka_topic_partitions,
                replication_factor=settings.kafka_replication_factor,
                config=topic_config(settings, name),
            )
            for name in names
        ],
        operation_timeout=ADMIN_TIMEOUT_S,
        request_timeout=ADMIN_TIMEOUT_S,
    )
    existing = []
    for topic, future in futures.items():
        try:
            await asyncio.wrap_future(future)
        except KafkaException as exc:
            if exc.args[0].code() != KafkaError.TOPIC_ALREADY_EXISTS:
                raise TopicError(f"creating topic {topic} failed: {_reason(exc)}") from exc
            existing.append(topic)
        else:
            log.info("created topic %s", topic)
    return existing


async def _fit_message_size(admin: AdminClient, topics: list[str], size: int) -> None:
    # A topic created before (by hand, by an older version, by the broker's auto-creation) may hold less than an
    # event the receiver accepts: the receiver would answer 503 for ever, a retry or dead letter be refused.
    for name in topics:
        current = await _max_message_bytes(admin, name)
        if current >= size:
            continue
        entry = ConfigEntry(MAX_MESSAGE_BYTES, str(size), incremental_operation=AlterConfigOpType.SET)
        altered = admin.incremental_alter_configs(
            [ConfigResource(ResourceType.TOPIC, name, incremental_configs=[entry])],
            request_timeout=ADMIN_TIMEOUT_S,
        )
        for done in altered.values():
            await asyncio.wrap_future(done)
        log.warning(
            "topic %s held records of up to %d bytes; raised to %d to fit WEBHOOK_MAX_BODY_BYTES",
            name,
            current,
            size,
        )


async def _max_message_bytes(admin: AdminClient, topic: str) -> int:
    # A setting the broker describes without a value fits nothing: raised like one too small.
    return int((await topic_entries(admin, topic))[MAX_MESSAGE_BYTES].value or 0)


async def topic_entries(admin: AdminClient, topic: str) -> dict[str, ConfigEntry]:
    """The topic's configuration as the broker describes it, by name.

    A topic created a moment ago (by another process, or just now: KRaft hands the controller's metadata on to the
    brokers after CreateTopics returns) may be unknown to the broker that answers for a while yet: asked again until
    ADMIN_TIMEOUT_S has passed.
    """
    deadline = time.monotonic() + ADMIN_TIMEOUT_S
    while True:
        [future] = admin.describe_configs(
            [ConfigResource(ResourceType.TOPIC, topic)], request_timeout=ADMIN_TIMEOUT_S
        ).values()
        try:
            entries: dict[str, ConfigEntry] = await asyncio.wrap_future(future)
            return entries
        except KafkaException as exc:
            if exc.args[0].code() not in NOT_KNOWN_YET or time.monotonic() > deadline:
                raise
        await asyncio.sleep(ASK_AGAIN_S)


def _reason(exc: KafkaException) -> str:
    error = exc.args[0] if exc.args else None
    return f"{error.name()} ({error.str()})" if isinstance(error, KafkaError) else type(exc).__name__
