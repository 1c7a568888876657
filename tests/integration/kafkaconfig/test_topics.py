"""Topics come out the same whichever process makes them: the receiver (either Kafka client) or a consumer group."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import cast

import pytest
from confluent_kafka.admin import AdminClient
from confluent_kafka.cimpl import NewTopic

from consumers.settings import Settings
from kafkaconfig.topics import ensure_topics, topic_config, topic_entries
from receiver.publish.aiokafka import AiokafkaPublisher
from receiver.publish.rdkafka import RdkafkaPublisher
from receiver.settings import ReceiverSettings
from schemas.topics import DLQ_RETENTION_MS, dlq_topic

# Off the defaults, so that a side that ignored a setting shows.
KAFKA = {
    "kafka_topic_partitions": 3,
    "max_body_bytes": 3 * 1_048_576,
    "kafka_batch_bytes": 2 * 1_048_576,
}
Maker = Callable[[str, list[str]], Awaitable[None]]


async def receiver_makes(client: str, bootstrap: str, topics: list[str]) -> None:
    settings = ReceiverSettings(kafka_bootstrap_servers=bootstrap, **KAFKA)  # type: ignore[arg-type]
    publisher = (RdkafkaPublisher if client == "librdkafka" else AiokafkaPublisher)(settings, topics)
    await publisher.start()
    try:
        assert publisher.ready
    finally:
        await publisher.stop()


async def consumers_make(bootstrap: str, topics: list[str]) -> None:
    await ensure_topics(Settings(kafka_bootstrap_servers=bootstrap, **KAFKA), topics)  # type: ignore[arg-type]


MAKERS: dict[str, Maker] = {
    "receiver-librdkafka": lambda bootstrap, topics: receiver_makes("librdkafka", bootstrap, topics),
    "receiver-aiokafka": lambda bootstrap, topics: receiver_makes("aiokafka", bootstrap, topics),
    "consumers": consumers_make,
}


async def described(bootstrap: str, topic: str) -> tuple[int, int, dict[str, str]]:
    """Partitions, replicas of the first, and the settings made on the topic itself (not the broker's defaults)."""
    admin = AdminClient({"bootstrap.servers": bootstrap})
    entries = await topic_entries(admin, topic)
    metadata = (await asyncio.to_thread(admin.list_topics, topic, timeout=10)).topics[topic]
    own = {
        name: entry.value
        for name, entry in entries.items()
        if cast(int, entry.source) == _DYNAMIC_TOPIC_CONFIG and entry.value is not None
    }
    return len(metadata.partitions), len(metadata.partitions[0].replicas), own


# ConfigSource.DYNAMIC_TOPIC_CONFIG, a setting made on the topic itself: described as its number, not the enum the
# client's type hints say.
_DYNAMIC_TOPIC_CONFIG = 1


@pytest.mark.parametrize("side", sorted(MAKERS))
async def test_a_new_topic_gets_the_same_configuration_whichever_process_creates_it(
    kafka_bootstrap: str, unique: str, side: str
) -> None:
    events, dead = f"it.{unique}.events", dlq_topic(f"it-{unique}", "agents")
    settings = Settings(**KAFKA)  # type: ignore[arg-type]

    await MAKERS[side](kafka_bootstrap, [events, dead])

    for topic in (events, dead):
        partitions, replicas, own = await described(kafka_bootstrap, topic)
        assert (partitions, replicas) == (3, 1)
        assert own == topic_config(settings, topic)
    assert own["retention.ms"] == str(DLQ_RETENTION_MS)
    # The largest body in its envelope, with a consumer's retry headers, fits; so does a full batch.
    assert int(own["max.message.bytes"]) > 3 * 1_048_576 > 2 * 1_048_576


@pytest.mark.parametrize("side", sorted(MAKERS))
async def test_a_topic_made_too_small_is_raised_alike_by_either_process_keeping_its_other_settings(
    kafka_bootstrap: str, unique: str, side: str
) -> None:
    topic = f"it.{unique}.small"
    by_hand = {"max.message.bytes": "100000", "retention.ms": "7200000"}
    admin = AdminClient({"bootstrap.servers": kafka_bootstrap})
    [created] = admin.create_topics([NewTopic(topic, num_partitions=1, replication_factor=1, config=by_hand)]).values()
    await asyncio.wrap_future(created)
    # KRaft applies a new topic's settings asynchronously: wait until they read back.
    deadline = time.monotonic() + 10
    while (await described(kafka_bootstrap, topic))[2] != by_hand:
        assert time.monotonic() < deadline, "the settings made by hand never read back"
        await asyncio.sleep(0.1)

    await MAKERS[side](kafka_bootstrap, [topic])

    partitions, _, own = await described(kafka_bootstrap, topic)
    expected = topic_config(Settings(**KAFKA), topic)  # type: ignore[arg-type]
    assert own == {"max.message.bytes": expected["max.message.bytes"], "retention.ms": "7200000"}
    assert partitions == 1  # an existing topic's layout is the operator's


async def test_members_starting_together_all_get_their_topics(kafka_bootstrap: str, unique: str) -> None:
    # CONSUMER_WORKERS members start at once: all but one find the topics existing, and the broker may not
    # describe a topic it created a moment ago yet. None of them may fail for it.
    for round_ in range(5):
        topics = [f"it.{unique}.together.{round_}", dlq_topic(f"it-{unique}-{round_}", "agents")]
        results = await asyncio.gather(
            *(consumers_make(kafka_bootstrap, topics) for _ in range(4)), return_exceptions=True
        )
        assert [r for r in results if r is not None] == []
