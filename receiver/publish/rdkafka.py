"""The librdkafka producer behind `Publisher` (confluent-kafka; the default `RECEIVER_KAFKA_CLIENT`).

librdkafka batches, retries and talks to the brokers in its own C threads, so the event loop that serves
HTTP only hands records over (`produce` copies them into librdkafka's queue) and settles futures. One
task on the loop polls for delivery reports, every millisecond while records are in flight and seldom
when none are, and settles the futures of a poll together; it also fails the records whose ack is
overdue, instead of a timer per request. A thread of its own polling instead cost as much CPU, with a GIL
hand-off per report and joins at stop and at a rebuild (docs/performance.md). The only module of the
receiver importing confluent_kafka.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import functools
import logging
from collections.abc import Callable, Collection

import orjson
from confluent_kafka import KafkaError, KafkaException, Message, Producer

from kafkaconfig.clients import librdkafka_producer_config
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

logger = logging.getLogger(__name__)

# How often delivery reports are polled for while records are in flight, seconds: each record's ack waits
# half of it on average, and one poll settles every report that came in meanwhile.
_POLL_S = 0.001
# How often librdkafka is polled when no record is in flight, for its error reports, seconds.
_IDLE_POLL_S = 0.1
# Bound on the last flush at shutdown, seconds.
_FLUSH_TIMEOUT_S = 10.0

_Report = tuple["asyncio.Future[None]", KafkaError | None]


class RdkafkaPublisher:
    """librdkafka's producer, with topic creation at start-up and a bounded wait for each ack."""

    def __init__(
        self,
        settings: ReceiverSettings,
        topics: Collection[str],
        *,
        startup_wait_s: float = STARTUP_WAIT_S,
        produce_requests: Callable[[int], None] | None = None,
    ) -> None:
        self._settings = settings
        self._topics = sorted(set(topics))
        self._startup_wait_s = startup_wait_s
        self._timeout_s = settings.publish_timeout_ms / 1000
        # Told of the produce requests sent since its last call, from librdkafka's statistics.
        self._produce_requests = produce_requests
        self._requests_seen = 0
        self._producer = self._new_producer()
        # Set by librdkafka's thread when the producer hit a fatal error: it takes no record again.
        self._fatal: KafkaError | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._reports: list[_Report] = []
        self._deadlines: collections.deque[tuple[float, asyncio.Future[None]]] = collections.deque()
        # Set by a publish, so the poller wakes from its idle wait at once.
        self._in_flight = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self._ready = False

    def _new_producer(self) -> Producer:
        settings = self._settings
        statistics: dict[str, object] = {}
        if self._produce_requests is not None and settings.kafka_stats_interval_ms:
            statistics = {"statistics.interval.ms": settings.kafka_stats_interval_ms, "stats_cb": self._on_stats}
        return Producer(
            {
                **librdkafka_producer_config(settings, client_id=CLIENT_ID),
                **statistics,
                "acks": "all",
                "enable.idempotence": True,
                "linger.ms": settings.kafka_linger_ms,
                "batch.size": settings.kafka_batch_bytes,
                "message.max.bytes": max_record_bytes(settings),
                "message.timeout.ms": delivery_timeout_ms(settings),
                # The Java client's key hashing: a key lands on the partition any other producer puts it on.
                "partitioner": "murmur2_random",
                "error_cb": self._on_client_error,
            }
        )

    @property
    def ready(self) -> bool:
        return self._ready and self._fatal is None

    async def start(self) -> None:
        """Start polling and connecting; wait a bounded time for the topics, then go on in the background."""
        self._loop = asyncio.get_running_loop()
        self._tasks = [
            asyncio.create_task(self._poll_reports(), name="kafka-delivery-reports"),
            asyncio.create_task(self._connect(), name="kafka-connect"),
        ]
        await asyncio.wait({self._tasks[1]}, timeout=self._startup_wait_s)

    async def stop(self) -> None:
        """Deliver what is queued (bounded), then settle what is left."""
        for task in self._tasks:
            task.cancel()
        # The poller goes first, so that flush() is the only caller left running delivery callbacks.
        await asyncio.gather(*self._tasks, return_exceptions=True)
        left = await asyncio.to_thread(self._producer.flush, _FLUSH_TIMEOUT_S)
        if left:
            logger.warning("%d records were not acknowledged before shutdown", left)
        self._settle(self._take_reports())
        self._ready = False

    async def publish(self, topic: str, key: bytes, value: bytes, headers: RecordHeaders) -> None:
        if not self.ready:
            raise Unavailable("not connected to Kafka" if self._fatal is None else "the Kafka producer is rebuilt")
        loop = self._loop
        assert loop is not None
        delivered: asyncio.Future[None] = loop.create_future()
        try:
            self._producer.produce(
                topic,
                value,
                key,
                headers=headers if isinstance(headers, list) else list(headers),
                on_delivery=functools.partial(self._on_delivery, delivered),
            )
        except BufferError:
            raise Unavailable("the producer's queue is full") from None
        except KafkaException as exc:
            raise Unavailable(f"Kafka refused the record: {_error_name(exc)}") from None
        del value  # librdkafka copied it: a large envelope isn't held twice through the wait for the ack
        self._deadlines.append((loop.time() + self._timeout_s, delivered))
        self._in_flight.set()
        await delivered

    # ------------------------------------------------------------------------------------ delivery reports

    def _on_delivery(self, delivered: asyncio.Future[None], error: KafkaError | None, _: Message) -> None:
        # Runs inside poll() or flush(): only queue the report, settled once the call returns.
        self._reports.append((delivered, error))

    async def _poll_reports(self) -> None:
        loop = asyncio.get_running_loop()
        deadlines = self._deadlines
        timeout_ms = self._settings.publish_timeout_ms
        while True:
            producer = self._producer
            producer.poll(0)
            if self._reports:
                self._settle(self._take_reports())
            now = loop.time()
            # One timeout for all, so the deque is in deadline order.
            while deadlines and deadlines[0][0] <= now:
                _, delivered = deadlines.popleft()
                if not delivered.done():
                    delivered.set_exception(Unavailable(f"Kafka did not acknowledge within {timeout_ms} ms"))
            # len(): records queued, in flight, or acknowledged with their report not yet polled.
            if len(producer):
                await asyncio.sleep(_POLL_S)
                continue
            self._in_flight.clear()
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(_IDLE_POLL_S):
                    await self._in_flight.wait()

    def _take_reports(self) -> list[_Report]:
        # Called by whoever ran the callbacks (the poller; in stop(), after flush), never beside it.
        reports, self._reports = self._reports, []
        return reports

    @staticmethod
    def _settle(reports: list[_Report]) -> None:
        for delivered, error in reports:
            if delivered.done():  # timed out or its request went away
                continue
            if error is None:
                delivered.set_result(None)
            else:
                delivered.set_exception(Unavailable(f"Kafka refused the record: {error.name()}"))

    def _on_stats(self, stats: str) -> None:
        # librdkafka's statistics, inside poll() or flush(): its produce requests so far, told on as the new ones.
        sent = produce_requests_sent(stats)
        if sent is None:
            logger.warning("the Kafka producer's statistics were unreadable")
            return
        new, self._requests_seen = sent - self._requests_seen, sent
        if new > 0 and self._produce_requests is not None:
            self._produce_requests(new)

    def _on_client_error(self, error: KafkaError) -> None:
        # librdkafka's error callback, inside poll() or flush(). Most errors (a broker disconnect) it recovers from
        # by itself; after a fatal one this producer takes no record again: a new one is built.
        if not _is_fatal(error):
            logger.warning("Kafka client: %s", error.name())
            return
        if self._fatal is not None:
            return
        self._fatal = error
        logger.error(
            "the Kafka producer hit a fatal error (%s): building a new one; webhooks get 503 and /readyz says not "
            "ready meanwhile",
            error.name(),
        )
        loop = self._loop
        if loop is not None:
            with contextlib.suppress(RuntimeError):  # the loop closed: the process is stopping anyway
                loop.call_soon_threadsafe(self._start_rebuild)

    def _start_rebuild(self) -> None:
        self._tasks.append(asyncio.create_task(self._rebuild(), name="kafka-rebuild"))

    async def _rebuild(self) -> None:
        # On the loop, between two polls: the old producer's last delivery reports (its purged records) are
        # settled here, and the poller takes the new producer from its next round.
        old = self._producer
        old.purge()
        old.flush(0)
        self._settle(self._take_reports())
        self._producer = self._new_producer()
        self._requests_seen = 0  # the new producer counts from 0
        self._fatal = None
        logger.warning("a new Kafka producer is in place after the fatal error")

    # ------------------------------------------------------------------------------------------ loop tasks

    async def _connect(self) -> None:
        await keep_connecting(self._settings, self._create_topics, (TopicError,))

    async def _create_topics(self) -> None:
        await ensure_topics(self._settings, self._topics, client_id=CLIENT_ID)
        self._ready = True


def produce_requests_sent(stats: str) -> int | None:
    """The produce requests a producer has sent to every broker, from its statistics' JSON; None if unreadable."""
    try:
        brokers = orjson.loads(stats)["brokers"]
        return sum(int(broker.get("req", {}).get("Produce", 0)) for broker in brokers.values())
    except (orjson.JSONDecodeError, KeyError, TypeError, AttributeError, ValueError):
        return None


def _error_name(exc: KafkaException) -> str:
    error = exc.args[0] if exc.args else None
    return error.name() if isinstance(error, KafkaError) else type(exc).__name__


def _is_fatal(error: KafkaError) -> bool:
    return bool(error.fatal() or error.code() == KafkaError._FATAL)
