"""Handlers that fail in odd ways still see their records resolved: a `CancelledError` raised without a cancel,
a `RetryLater` asking for an infinite or NaN delay, an error message that is no valid text.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from typing import Any

from consumers import Context, Event, Registry
from consumers.errors import RetryLater
from consumers.retries import MAX_RETRY_DELAY_MS
from schemas.topics import HEADER_ERROR_CLASS, HEADER_NOT_BEFORE
from tests.integration.kafka_tools import committed_lag, envelope, headers_of, produce, read_topic
from tests.integration.polling import eventually
from tests.integration.workers import GroupFactory, WorkerFactory, outcome


async def test_odd_handler_failures_are_retried_like_any_failure(
    consumer_group: GroupFactory, worker: WorkerFactory, kafka_bootstrap: str
) -> None:
    consumers = await consumer_group()
    route, group = consumers.topics, consumers.name
    calls: Counter[str] = Counter()
    shared: asyncio.Future[None] = asyncio.get_running_loop().create_future()
    shared.cancel()  # another handler's timeout cancelled what this one awaits
    registry = Registry()

    @registry.handler("hmac", "*")
    async def odd(event: Event[Any], context: Context) -> None:
        calls[event.id] += 1
        if context.attempt > 1:
            return
        if event.id.startswith("cancelled"):
            await shared
        if event.id == "nan":
            raise RetryLater("come back whenever", delay_s=float("nan"))
        if event.id == "surrogate":
            raise RuntimeError(b"upstream said \xff".decode("utf-8", "surrogateescape"))

    ids = ["cancelled_1", "cancelled_2", "cancelled_3", "nan", "surrogate"]
    metrics, stop = await worker(consumers, registry=registry)
    await produce(kafka_bootstrap, route.topic, [(event_id, envelope(event_id)) for event_id in ids])
    await eventually(lambda: outcome(metrics, route.provider, group, "ok") == 5, "every retry to succeed")
    await stop()

    assert calls == Counter(dict.fromkeys(ids, 2))
    assert outcome(metrics, route.provider, group, "retried") == 5
    retries = {
        record.key: headers_of(record) for record in await read_topic(kafka_bootstrap, route.retry_topic, expect=5)
    }
    assert retries[b"cancelled_1"][HEADER_ERROR_CLASS] == "CancelledError"
    assert await committed_lag(kafka_bootstrap, group, [route.topic, route.retry_topic]) == 0


async def test_a_retry_asked_for_in_infinitely_long_comes_after_the_longest_delay(
    consumer_group: GroupFactory, worker: WorkerFactory, kafka_bootstrap: str
) -> None:
    consumers = await consumer_group()
    route, group = consumers.topics, consumers.name

    async def never(event: Event[Any], context: Context) -> None:
        raise RetryLater("come back never", delay_s=float("inf"))

    metrics, stop = await worker(consumers, never)
    sent_ms = time.time() * 1000
    await produce(kafka_bootstrap, route.topic, [("forever", envelope("forever"))])
    await eventually(lambda: outcome(metrics, route.provider, group, "retried") == 1, "the retry")
    await stop()

    [retry] = await read_topic(kafka_bootstrap, route.retry_topic, expect=1)
    due_ms = int(headers_of(retry)[HEADER_NOT_BEFORE])
    assert sent_ms + MAX_RETRY_DELAY_MS - 60_000 <= due_ms <= sent_ms + MAX_RETRY_DELAY_MS + 60_000
    assert await committed_lag(kafka_bootstrap, group, [route.topic]) == 0
