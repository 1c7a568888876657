"""The Kafka adapter: the only module that imports aiokafka (it is untyped; everything leaving here is).

`Record` is a fetched record as the worker reads it (`header`, `int_header` and `attempt_of` read its
headers); `KafkaClient` holds one group member's consumer (manual commits, batched fetches) and the producer it
sends retry and dead-letter records with. Both take the connection as aiokafka options
(`kafkaconfig.clients.aiokafka_options`); `KafkaClient.from_settings`, which `Worker.from_settings` calls, builds
a member from the settings.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Mapping, Sequence
from typing import Any, NamedTuple, Protocol, Self

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRebalanceListener, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.errors import (
    CommitFailedError,
    GroupCoordinatorNotAvailableError,
    IllegalStateError,
    KafkaError,
    LeaderNotAvailableError,
    MessageSizeTooLargeError,
    NotLeaderForPartitionError,
    RecordListTooLargeError,
    RecordTooLargeError,
)

from consumers.errors import BrokerUnavailable, RecordTooLarge
from consumers.settings import Settings
from kafkaconfig.clients import aiokafka_compression, aiokafka_options
from schemas.topics import HEADER_ATTEMPT, max_retry_record_bytes

log = logging.getLogger(__name__)

# Record headers as aiokafka gives and takes them: (name, value) pairs, names as str, values as bytes.
Headers = Sequence[tuple[str, bytes]]


class Partition(NamedTuple):
    """One partition of a topic."""

    topic: str
    partition: int


class Ends(NamedTuple):
    """Where a member stands in a partition."""

    position: int
    """The offset it fetches next."""
    highwater: int
    """One past the partition's last record, as of the last fetch."""


class OutRecord(NamedTuple):
    """A record to produce."""

    topic: str
    key: bytes | None
    value: bytes | None
    headers: Headers


class Record(Protocol):
    """A fetched record, as the worker reads it."""

    @property
    def topic(self) -> str: ...
    @property
    def partition(self) -> int: ...
    @property
    def offset(self) -> int: ...
    @property
    def key(self) -> bytes | None: ...
    @property
    def value(self) -> bytes | None: ...
    @property
    def headers(self) -> Headers: ...


class RecordSink(Protocol):
    """Where the worker sends retry and dead-letter records (`KafkaClient`; an in-memory fake in the tests)."""

    async def send_all(self, records: Sequence[OutRecord]) -> None:
        """Send the records and wait for every acknowledgement.

        Raises:
            BrokerUnavailable: not acknowledged (the caller sends them again).
            RecordTooLarge: refused for its size (sending again can't help).
        """
        ...


class TimedRecord(Record, Protocol):
    """A fetched record with the broker's timestamp (epoch ms): for a DLQ record, when it was dead-lettered."""

    @property
    def timestamp(self) -> int: ...


def header(record: Record, name: str) -> str | None:
    """A record header's value as text, or None when it is missing or not UTF-8."""
    for key, value in record.headers:
        if key == name:
            return header_text(value)
    return None


def header_text(value: bytes) -> str | None:
    """A header value as text, or None when it is not UTF-8."""
    try:
        return value.decode()
    except UnicodeDecodeError:
        return None


def int_header(record: Record, name: str) -> int | None:
    """A record header as an integer; None when it is missing or no integer."""
    value = header(record, name)
    try:
        return int(value) if value is not None else None
    except ValueError:
        return None


def attempt_of(record: Record) -> int:
    """The attempt a retry record carries (`HEADER_ATTEMPT`); 1 when it carries none."""
    return max(1, int_header(record, HEADER_ATTEMPT) or 1)


# Awaited with the partitions taken away from this member, before the group rebalances: the member still
# owns them meanwhile, so it can finish or give up its work and commit.
RevokedCallback = Callable[[list[Partition]], Awaitable[None]]
# Called with the partitions given to this member by a rebalance.
AssignedCallback = Callable[[list[Partition]], None]


class _Listener(ConsumerRebalanceListener):  # type: ignore[misc]
    def __init__(self, on_revoked: RevokedCallback, on_assigned: AssignedCallback | None) -> None:
        self._on_revoked = on_revoked
        self._on_assigned = on_assigned

    async def on_partitions_revoked(self, revoked: Iterable[Any]) -> None:
        # aiokafka awaits this before it rejoins the group (ConsumerRebalanceListener allows a coroutine).
        await self._on_revoked([Partition(tp.topic, tp.partition) for tp in revoked])

    def on_partitions_assigned(self, assigned: Iterable[Any]) -> None:
        parts = sorted(Partition(tp.topic, tp.partition) for tp in assigned)
        log.info("assigned %s", [f"{topic}[{partition}]" for topic, partition in parts])
        if self._on_assigned is not None:
            self._on_assigned(parts)


# On a fresh broker the offsets topic and new topics get their leaders some seconds after start-up, and aiokafka
# logs each retry meanwhile at ERROR ("Group Coordinator Request failed: [Error 15]", "Failed fetch offsets
# from 1: [Error 6]"). That is expected for this long after a client starts; later it is an error again.
STARTUP_GRACE_S = 60.0
_STARTUP_ERRORS = (GroupCoordinatorNotAvailableError, LeaderNotAvailableError, NotLeaderForPartitionError)
_RETRYING_LOGGERS = ("aiokafka.consumer.group_coordinator", "aiokafka.consumer.fetcher")


class StartupRetriesFilter(logging.Filter):
    """Logs aiokafka's retries of a broker that is still starting (`_STARTUP_ERRORS`) at INFO for a grace period.

    Any other error, and these ones after the grace (a coordinator or leader that never comes is a real
    problem), stay at ERROR.
    """

    def __init__(self, grace_s: float = STARTUP_GRACE_S, clock: Callable[[], float] = time.monotonic) -> None:
        super().__init__()
        self._clock = clock
        self._until = clock() + grace_s

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args if isinstance(record.args, tuple) else ()
        if (
            record.levelno == logging.ERROR
            and any(isinstance(arg, _STARTUP_ERRORS) for arg in args)
            and self._clock() < self._until
        ):
            record.levelno, record.levelname = logging.INFO, logging.getLevelName(logging.INFO)
        return True


def _quiet_startup_retries() -> None:
    startup_filter = StartupRetriesFilter()
    for name in _RETRYING_LOGGERS:
        retrying = logging.getLogger(name)
        for old in [f for f in retrying.filters if isinstance(f, StartupRetriesFilter)]:
            retrying.removeFilter(old)
        retrying.addFilter(startup_filter)


class KafkaClient:
    """One consumer-group member's consumer and producer.

    Args:
        connection: bootstrap, TLS and SASL options (`kafkaconfig.clients.aiokafka_options`).
        group: the consumer group it joins (`CONSUMER_GROUP`).
        session_timeout_ms: how long the group waits for a heartbeat (`CONSUMER_SESSION_TIMEOUT_MS`).
        max_poll_interval_ms: the longest the group waits between fetches (`CONSUMER_MAX_POLL_INTERVAL_MS`).
        shutdown_grace_s: how long running handlers may finish on a revocation (`CONSUMER_SHUTDOWN_GRACE_S`).
        max_body_bytes: the largest webhook body the receiver takes (`WEBHOOK_MAX_BODY_BYTES`).
        compression: how the producer compresses retry and dead-letter batches (`KAFKA_COMPRESSION`; None:
            not at all).
    """

    def __init__(
        self,
        connection: Mapping[str, Any],
        *,
        group: str,
        session_timeout_ms: int,
        max_poll_interval_ms: int,
        shutdown_grace_s: float,
        max_body_bytes: int,
        compression: str | None = None,
    ) -> None:
        self._consumer = AIOKafkaConsumer(
            group_id=group,
            # Offsets are committed by the worker once the records before them are dealt with.
            enable_auto_commit=False,
            # A new group starts at the beginning: a topic's first events are not lost to it.
            auto_offset_reset="earliest",
            session_timeout_ms=session_timeout_ms,
            heartbeat_interval_ms=session_timeout_ms // 3,
            max_poll_interval_ms=max_poll_interval_ms,
            # aiokafka's default is the session timeout; the revocation callback may need the shutdown grace
            # on top to let in-flight handlers finish, and the group waits for it that long.
            rebalance_timeout_ms=session_timeout_ms + round(shutdown_grace_s * 1000),
            **connection,
        )
        self._producer = AIOKafkaProducer(
            acks="all",
            enable_idempotence=True,
            # Any event the receiver wrote, with the retry headers: a failed event always fits its retry record.
            max_request_size=max_retry_record_bytes(max_body_bytes),
            compression_type=compression,
            **connection,
        )

    @classmethod
    def from_settings(cls, settings: Settings) -> Self:
        """A member of the settings' group (`CONSUMER_GROUP`), connected as the `KAFKA_*` settings say."""
        return cls(
            aiokafka_options(settings),
            group=settings.consumer_group,
            session_timeout_ms=settings.consumer_session_timeout_ms,
            max_poll_interval_ms=settings.consumer_max_poll_interval_ms,
            shutdown_grace_s=settings.consumer_shutdown_grace_s,
            max_body_bytes=settings.max_body_bytes,
            compression=aiokafka_compression(settings),
        )

    async def start(
        self, topics: Sequence[str], *, on_revoked: RevokedCallback, on_assigned: AssignedCallback | None = None
    ) -> None:
        """Connect the producer and the consumer and subscribe to `topics`."""
        _quiet_startup_retries()
        await self._producer.start()
        try:
            await self._consumer.start()
            self._consumer.subscribe(list(topics), listener=_Listener(on_revoked, on_assigned))
        except BaseException:
            await self._producer.stop()
            raise

    async def stop(self) -> None:
        """Leave the group and close both clients."""
        try:
            await self._consumer.stop()
        finally:
            await self._producer.stop()

    async def fetch(self, *, timeout_ms: int, max_records: int) -> dict[Partition, list[Record]]:
        """The next records of every assigned, unpaused partition, in offset order per partition."""
        batch = await self._consumer.getmany(timeout_ms=timeout_ms, max_records=max_records)
        return {Partition(tp.topic, tp.partition): records for tp, records in batch.items() if records}

    async def commit(self, offsets: Mapping[Partition, int]) -> bool:
        """Commit the next offset to read of each partition; False when the group took a partition away.

        Partitions no longer assigned are left out: their new owner reads them from the last commit.
        """
        assigned = self._consumer.assignment()
        wanted = {TopicPartition(*part): offset for part, offset in offsets.items()}
        owned = {tp: offset for tp, offset in wanted.items() if tp in assigned}
        if not owned:
            return len(wanted) == 0
        try:
            await self._consumer.commit(owned)
        except (CommitFailedError, IllegalStateError) as exc:
            log.warning("commit failed, the group rebalanced: %s", type(exc).__name__)
            return False
        except KafkaError as exc:
            # The next commit of these partitions covers these offsets; until then a restart re-reads them.
            log.warning("commit failed: %s", type(exc).__name__)
            return False
        return len(owned) == len(wanted)

    def assignment(self) -> set[Partition]:
        """The partitions assigned to this member now."""
        return {Partition(tp.topic, tp.partition) for tp in self._consumer.assignment()}

    def pause(self, part: Partition) -> None:
        """Stop fetching from a partition until `resume`; nothing when it is no longer assigned."""
        with contextlib.suppress(IllegalStateError):
            self._consumer.pause(TopicPartition(*part))

    def resume(self, part: Partition) -> None:
        """Fetch from a paused partition again; nothing when it is no longer assigned."""
        with contextlib.suppress(IllegalStateError):
            self._consumer.resume(TopicPartition(*part))

    def seek(self, part: Partition, offset: int) -> None:
        """Fetch a partition from `offset` on next; nothing when it is no longer assigned."""
        with contextlib.suppress(IllegalStateError):
            self._consumer.seek(TopicPartition(*part), offset)

    async def ends(self) -> dict[Partition, Ends]:
        """The position and high watermark of each assigned partition, as of the last fetch; partitions not
        fetched yet are left out."""
        ends: dict[Partition, Ends] = {}
        for tp in self._consumer.assignment():
            highwater = self._consumer.highwater(tp)
            if highwater is None:
                continue
            try:
                position = await self._consumer.position(tp)
            except IllegalStateError:  # taken away by a rebalance meanwhile
                continue
            ends[Partition(tp.topic, tp.partition)] = Ends(int(position), int(highwater))
        return ends

    async def send_all(self, records: Sequence[OutRecord]) -> None:
        """Produce records and return once every in-sync replica has each of them (acks=all).

        Raises:
            RecordTooLarge: a record is over its topic's size limit, and no retry can change that.
            BrokerUnavailable: a record was not acknowledged; some of the others may have been.
        """
        try:
            pending = [
                await self._producer.send(rec.topic, value=rec.value, key=rec.key, headers=list(rec.headers))
                for rec in records
            ]
            await asyncio.gather(*pending)
        except (MessageSizeTooLargeError, RecordListTooLargeError, RecordTooLargeError) as exc:
            raise RecordTooLarge(f"Kafka refused a record for its size: {type(exc).__name__}") from exc
        except KafkaError as exc:
            raise BrokerUnavailable(f"Kafka did not acknowledge a record: {type(exc).__name__}") from exc


async def read_to_end(
    connection: Mapping[str, Any], topic: str, *, group: str | None = None
) -> AsyncIterator[TimedRecord]:
    """Every record of `topic` from its beginning (or from `group`'s committed offsets) to its end as of the call,
    partition by partition, without joining a consumer group (nothing is committed: a DLQ is read, never
    consumed; a dry run reads what the group would, leaving its partitions to its members). `connection`: aiokafka
    options (`kafkaconfig.clients.aiokafka_options`)."""
    admin = AIOKafkaAdminClient(**connection)
    await admin.start()
    try:
        [described] = await admin.describe_topics([topic])
    finally:
        await admin.close()
    # A topic that does not exist (no record was ever dead-lettered) has no partitions: nothing to read.
    parts = [
        TopicPartition(topic, p["partition"]) for p in sorted(described["partitions"], key=lambda p: p["partition"])
    ]
    if not parts:
        return
    consumer = AIOKafkaConsumer(enable_auto_commit=False, group_id=None, **connection)
    await consumer.start()
    try:
        ends = await consumer.end_offsets(parts)
        starts = await consumer.beginning_offsets(parts)
        if group is not None:
            starts = {
                tp: max(starts[tp], offset) for tp, offset in (await _committed(connection, group, parts)).items()
            }
        for tp in parts:
            if ends[tp] <= starts[tp]:
                continue
            consumer.assign([tp])
            consumer.seek(tp, starts[tp])
            while await consumer.position(tp) < ends[tp]:
                batch = await consumer.getmany(tp, timeout_ms=1000)
                for record in batch.get(tp, []):
                    if record.offset < ends[tp]:
                        yield record
    finally:
        await consumer.stop()


async def _committed(
    connection: Mapping[str, Any], group: str, parts: list[TopicPartition]
) -> dict[TopicPartition, int]:
    # The group's committed offsets, asked of its coordinator without joining the group (no partition moves).
    consumer = AIOKafkaConsumer(enable_auto_commit=False, group_id=group, **connection)
    await consumer.start()
    try:
        return {tp: await consumer.committed(tp) or 0 for tp in parts}
    finally:
        await consumer.stop()


__all__ = [
    "Ends",
    "Headers",
    "KafkaClient",
    "OutRecord",
    "Partition",
    "Record",
    "RecordSink",
    "read_to_end",
]
