"""The librdkafka producer behind `Publisher` (confluent-kafka; the default `RECEIVER_KAFKA_CLIENT`).

librdkafka batches, retries and talks to the brokers in its own C threads, so the event loop that serves
HTTP only hands records over (`produce` copies them into librdkafka's queue) and settles futures. One
thread polls for delivery reports and settles them on the loop in batches, one wake-up per poll rather
than one per record. One sweeper task fails the records whose ack is overdue, instead of a timer per
request. The only module of the receiver importing confluent_kafka.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import functools
import logging
import threading
from collections.abc import Collection

from confluent_kafka import KafkaError, KafkaException, Message, Producer

from kafkaconfig.clients import librdkafka_config
from kafkaconfig.topics import TopicError, ensure_topics
from receiver.errors import Unavailable
from receiver.publish import (
    CLIENT_ID,
    CONNECT_BACKOFF_S,
    STARTUP_WAIT_S,
    RecordHeaders,
    delivery_timeout_ms,
    max_record_bytes,
)
from receiver.settings import ReceiverSettings

logger = logging.getLogger(__name__)

# How long one poll for delivery reports blocks, seconds: also how long stop() may wait for the thread.
_POLL_S = 0.1
# How often overdue publishes are failed, seconds: the 503 comes at most this much after the timeout.
_SWEEP_S = 0.05
# Bound on the last flush at shutdown, seconds.
_FLUSH_TIMEOUT_S = 10.0

_Report = tuple["asyncio.Future[None]", KafkaError | None]


class RdkafkaPublisher:
    """librdkafka's producer, with topic creation at start-up and a bounded wait for each ack."""

    def __init__(
        self, settings: ReceiverSettings, topics: Collection[str], *, startup_wait_s: float = STARTUP_WAIT_S
    ) -> None:
        self._settings = settings
        self._topics = sorted(set(topics))
        self._startup_wait_s = startup_wait_s
        self._timeout_s = settings.publish_timeout_ms / 1000
        self._producer = self._new_producer()
        # Set by librdkafka's thread when the producer hit a fatal error: it takes no record again.
        self._fatal: KafkaError | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._reports: list[_Report] = []
        self._deadlines: collections.deque[tuple[float, asyncio.Future[None]]] = collections.deque()
        self._closing = threading.Event()
        self._poller: threading.Thread | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._ready = False

    def _new_producer(self) -> Producer:
        settings = self._settings
        return Producer(
            {
                **librdkafka_config(settings, client_id=CLIENT_ID),
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
        self._poller = threading.Thread(target=self._poll_reports, name="kafka-delivery-reports", daemon=True)
        self._poller.start()
        self._tasks = [
            asyncio.create_task(self._sweep_overdue(), name="kafka-sweep"),
            asyncio.create_task(self._connect(), name="kafka-connect"),
        ]
        await asyncio.wait({self._tasks[1]}, timeout=self._startup_wait_s)

    async def stop(self) -> None:
        """Deliver what is queued (bounded), then stop the threads."""
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        # The poller goes first, so that flush() is the only thread left running delivery callbacks.
        self._closing.set()
        if self._poller is not None:
            await asyncio.to_thread(self._poller.join)
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
                headers=list(headers),
                on_delivery=functools.partial(self._on_delivery, delivered),
            )
        except BufferError:
            raise Unavailable("the producer's queue is full") from None
        except KafkaException as exc:
            raise Unavailable(f"Kafka refused the record: {_error_name(exc)}") from None
        del value  # librdkafka copied it: a large envelope isn't held twice through the wait for the ack
        self._deadlines.append((loop.time() + self._timeout_s, delivered))
        await delivered

    # ------------------------------------------------------------------------------------ delivery thread

    def _on_delivery(self, delivered: asyncio.Future[None], error: KafkaError | None, _: Message) -> None:
        # Runs in the poller thread, inside poll(): only queue the report for the loop.
        self._reports.append((delivered, error))

    def _poll_reports(self) -> None:
        loop = self._loop
        assert loop is not None
        while not self._closing.is_set():
            self._producer.poll(_POLL_S)
            reports = self._take_reports()
            if reports:
                try:
                    loop.call_soon_threadsafe(self._settle, reports)
                except RuntimeError:  # the loop closed under us: nothing is waiting any more
                    return

    def _take_reports(self) -> list[_Report]:
        # Called by the thread that runs the callbacks (the poller; in stop(), after flush), never beside it.
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

    def _on_client_error(self, error: KafkaError) -> None:
        # librdkafka's error callback, in the thread that polls. Most errors (a broker disconnect) it recovers from
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
        # The poller goes first, so that purging runs the last delivery callbacks of the old producer alone.
        self._closing.set()
        if self._poller is not None:
            await asyncio.to_thread(self._poller.join)
        old = self._producer
        old.purge()
        await asyncio.to_thread(old.flush, 0)
        self._settle(self._take_reports())
        self._producer = self._new_producer()
        self._closing = threading.Event()
        self._poller = threading.Thread(target=self._poll_reports, name="kafka-delivery-reports", daemon=True)
        self._poller.start()
        self._fatal = None
        logger.warning("a new Kafka producer is in place after the fatal error")

    # ------------------------------------------------------------------------------------------ loop tasks

    async def _sweep_overdue(self) -> None:
        loop = asyncio.get_running_loop()
        deadlines = self._deadlines
        timeout_ms = self._settings.publish_timeout_ms
        while True:
            await asyncio.sleep(_SWEEP_S)
            now = loop.time()
            # One timeout for all, so the deque is in deadline order.
            while deadlines and deadlines[0][0] <= now:
                _, delivered = deadlines.popleft()
                if not delivered.done():
                    delivered.set_exception(Unavailable(f"Kafka did not acknowledge within {timeout_ms} ms"))

    async def _connect(self) -> None:
        attempt = 0
        while True:
            try:
                await ensure_topics(self._settings, self._topics, client_id=CLIENT_ID)
            except TopicError as exc:
                delay = CONNECT_BACKOFF_S[min(attempt, len(CONNECT_BACKOFF_S) - 1)]
                attempt += 1
                logger.warning("Kafka not ready (%s); retrying in %.1fs", exc, delay)
                await asyncio.sleep(delay)
                continue
            self._ready = True
            logger.info("connected to Kafka at %s", self._settings.kafka_bootstrap_servers)
            return


def _error_name(exc: KafkaException) -> str:
    error = exc.args[0] if exc.args else None
    return error.name() if isinstance(error, KafkaError) else type(exc).__name__


def _is_fatal(error: KafkaError) -> bool:
    return bool(error.fatal() or error.code() == KafkaError._FATAL)
