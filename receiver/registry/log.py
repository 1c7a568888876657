"""The registry's topic, read and written with librdkafka (confluent-kafka): the registry's only Kafka code.

`_webhooks-sources` (`WEBHOOK_REGISTRY_TOPIC`) holds one record per change: key the source id, value its
definition (definition.py), an empty value (a tombstone) for a deleted source. Why this shape:

- `cleanup.policy=compact`: Kafka keeps the latest record of every key for ever (time retention would lose
  sources nobody changed for a week) and drops the ones it replaced, so a reader starting from the beginning
  reads about one record per source. A tombstone stays `delete.retention.ms` (a day by default), ample for
  every running reader to see the deletion.
- One partition: every change in one order, and one end to read to ("have I read everything?" is one
  offset). Ten thousand sources are a few megabytes.
- `segment.ms` one hour: the active segment is never compacted, so the default week would keep every
  change of the week.
- The name: a leading `_` marks a topic as internal (Confluent Schema Registry keeps its state in `_schemas`
  the same way), outside `webhooks.<provider>`, so no provider's topic and no downstream subscription to
  `webhooks.*` ever meets it; a `-` rather than `.` or `_`, which Kafka's metric names confuse.

Nothing here joins a consumer group: a reader assigns itself the partition and commits nothing, so every
receiver process reads the whole log, and the commands read it to the end before they change anything.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from confluent_kafka import Consumer, KafkaError, KafkaException, Producer, TopicPartition
from confluent_kafka.admin import AdminClient
from confluent_kafka.cimpl import NewTopic

from kafkaconfig.clients import librdkafka_config, librdkafka_producer_config
from kafkaconfig.topics import ASK_AGAIN_S, NOT_KNOWN_YET, TopicError, ensure_topics
from receiver.errors import RegistryUnavailable
from receiver.publish import CLIENT_ID
from receiver.settings import ReceiverSettings
from schemas.topics import min_insync_replicas

logger = logging.getLogger(__name__)

TOPIC_CONFIG = {
    "cleanup.policy": "compact",
    "segment.ms": str(3_600_000),
    # Compact within a day even when a segment is small, so deleted sources don't linger for weeks.
    "max.compaction.lag.ms": str(86_400_000),
}
# The fetch's longest wait at the broker, ms: a change reaches every reader within about this.
FETCH_WAIT_MS = 100
_ADMIN_TIMEOUT_S = 10.0
# Records taken from the reader's queue in one go.
_BATCH = 1000


@dataclass(frozen=True, slots=True)
class Change:
    """One record of the registry's topic: a source's definition, or None where it was deleted."""

    key: str
    value: bytes | None
    offset: int


@contextlib.contextmanager
def _kafka(doing: str) -> Iterator[None]:
    # The registry's callers see errors of ours only: this is its one module that knows confluent-kafka.
    try:
        yield
    except KafkaException as exc:
        error = exc.args[0] if exc.args else None
        name = error.name() if isinstance(error, KafkaError) else type(exc).__name__
        raise RegistryUnavailable(f"Kafka did not take {doing} ({name})") from exc


def ensure_topic(settings: ReceiverSettings) -> None:
    """Create the registry's topic where it is missing; `RegistryUnavailable` when Kafka can't be reached."""
    with _kafka("the registry's topic"):
        _ensure_topic(settings)


def _ensure_topic(settings: ReceiverSettings) -> None:
    admin = AdminClient(librdkafka_config(settings, client_id=CLIENT_ID))
    config = {**TOPIC_CONFIG, "min.insync.replicas": str(min_insync_replicas(settings.kafka_replication_factor))}
    _create(admin, [NewTopic(settings.registry_topic, 1, settings.kafka_replication_factor, config=config)])


def ensure_event_topics(settings: ReceiverSettings, topics: Sequence[str]) -> None:
    """Create the event topics of sources added at run time where missing, as every topic is made
    (`kafkaconfig.topics`); called from the follower's thread, which runs no event loop."""
    try:
        asyncio.run(ensure_topics(settings, topics, client_id=CLIENT_ID))
    except TopicError as exc:
        raise RegistryUnavailable(f"Kafka did not take the event topics ({exc})") from exc


def _create(admin: AdminClient, topics: list[NewTopic]) -> None:
    futures = admin.create_topics(topics, operation_timeout=_ADMIN_TIMEOUT_S, request_timeout=_ADMIN_TIMEOUT_S)
    for name, future in futures.items():
        try:
            future.result()
        except KafkaException as exc:
            if exc.args[0].code() != KafkaError.TOPIC_ALREADY_EXISTS:
                raise
        else:
            logger.info("created topic %s", name)


class RegistryReader:
    """Reads the registry's topic from its beginning, then follows it.

    Args:
        settings: Kafka's address and credentials, and the topic's name.
    """

    def __init__(self, settings: ReceiverSettings) -> None:
        with _kafka("a reader of the registry"):
            self._consumer, start, self._end = self._assigned(settings)
        # Turns True with the record before `_end` (or an empty fetch at the end, where compaction removed that
        # record): everything that was there when the reader started has been read.
        self.at_end = start >= self._end

    @staticmethod
    def _assigned(settings: ReceiverSettings) -> tuple[Consumer, int, int]:
        consumer = Consumer(
            {
                **librdkafka_config(settings, client_id=CLIENT_ID),
                # Required by librdkafka, never used: the partition is assigned by hand and nothing committed.
                "group.id": "webhooks-registry",
                "enable.auto.commit": False,
                "enable.partition.eof": True,
                "fetch.wait.max.ms": FETCH_WAIT_MS,
                # Where the first offset asked for is gone by the time it is fetched (records deleted).
                "auto.offset.reset": "earliest",
            }
        )
        # The partition's first and next offsets, asked for once. Assigned at `OFFSET_BEGINNING`, librdkafka
        # resolves that on a 500 ms timer when it doesn't know the partition's leader yet, which a new consumer
        # never does; and the end shows as an empty fetch, which waits `FETCH_WAIT_MS` at the broker. Every command
        # and every receiver's start-up read the registry: 0.6 s each, against milliseconds this way.
        try:
            start, end = _offsets(consumer, TopicPartition(settings.registry_topic, 0))
        except KafkaException:
            consumer.close()
            raise
        consumer.assign([TopicPartition(settings.registry_topic, 0, start)])
        return consumer, start, end

    def poll(self, timeout_s: float) -> list[Change]:
        """The changes that came within `timeout_s`; `at_end` turns True once the reader reached the end."""
        changes = []
        with _kafka("a read of the registry"):
            # The first record (or the end) as soon as it comes, then what is there already: a batch call alone
            # waits out its whole timeout unless the batch fills, and every change or command would wait with it.
            first = self._consumer.poll(timeout_s)
            messages = [] if first is None else [first, *self._consumer.consume(num_messages=_BATCH, timeout=0)]
        for message in messages:
            error = message.error()
            if error is not None:
                if error.code() == KafkaError._PARTITION_EOF:
                    self.at_end = True
                elif error.fatal():
                    raise RegistryUnavailable(f"reading the source registry: {error.name()}")
                else:
                    # librdkafka retries these by itself (a broker away, the topic just created).
                    logger.warning("reading the source registry: %s", error.name())
                continue
            key = message.key()
            offset = message.offset()
            if offset is not None and offset >= self._end - 1:
                self.at_end = True
            if key is None or offset is None:
                continue  # not written by us: a source always has its id as key
            changes.append(Change(key.decode("utf-8", "replace"), message.value() or None, offset))
        return changes

    def close(self) -> None:
        self._consumer.close()


def _offsets(consumer: Consumer, partition: TopicPartition) -> tuple[int, int]:
    # The partition's first and next offsets, waiting out a broker that doesn't know the topic yet (as
    # `kafkaconfig.topics.topic_entries` does for a describe; this runs on a thread without an event loop).
    deadline = time.monotonic() + _ADMIN_TIMEOUT_S
    while True:
        try:
            start, end = consumer.get_watermark_offsets(partition, timeout=_ADMIN_TIMEOUT_S)
            return int(start), int(end)
        except KafkaException as exc:
            if exc.args[0].code() not in NOT_KNOWN_YET or time.monotonic() > deadline:
                raise
        time.sleep(ASK_AGAIN_S)


def read_all(settings: ReceiverSettings, timeout_s: float = 30.0) -> dict[str, Change]:
    """The latest record of every source still in the registry, read to the end (for the commands)."""
    ensure_topic(settings)
    reader = RegistryReader(settings)
    latest: dict[str, Change] = {}
    deadline = time.monotonic() + timeout_s
    try:
        while not reader.at_end:
            if time.monotonic() > deadline:
                raise RegistryUnavailable(
                    f"the registry's topic {settings.registry_topic} was not read within {timeout_s} s"
                )
            for change in reader.poll(0.5):
                latest[change.key] = change
    finally:
        reader.close()
    return {key: change for key, change in latest.items() if change.value is not None}


def write(settings: ReceiverSettings, records: Sequence[tuple[str, bytes | None]]) -> None:
    """Write records (`None`: a tombstone) and return once Kafka holds all of them; `RegistryUnavailable`
    otherwise."""
    failures: list[str] = []

    def delivered(error: KafkaError | None, _: object) -> None:
        if error is not None:
            failures.append(error.name())

    with _kafka("the change"):
        producer = Producer(
            {
                **librdkafka_producer_config(settings, client_id=CLIENT_ID),
                "acks": "all",
                # Not idempotent: librdkafka gets an idempotent producer's id on a 500 ms timer, which every command
                # would wait for. None is needed: each record is a source's whole definition (the latest wins), so
                # one a retry writes twice changes nothing, and one request in flight keeps the records in order.
                "enable.idempotence": False,
                "max.in.flight.requests.per.connection": 1,
                "linger.ms": 5,
            }
        )
        for key, value in records:
            producer.produce(settings.registry_topic, value, key.encode(), on_delivery=delivered)
            producer.poll(0)
        left = producer.flush(_ADMIN_TIMEOUT_S)
    if left or failures:
        raise RegistryUnavailable(f"Kafka did not take the change ({', '.join(failures) or 'no acknowledgement'})")
