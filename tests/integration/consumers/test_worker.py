"""The worker against the real Kafka broker and Redis: what a user of a consumer group sees.

Each test gets its own topics and groups (`unique`), a registry of handlers that record their calls, and
reads outcomes from the worker's metrics registry, the group's committed offsets and its DLQ topic.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

import pytest
import redis.asyncio

from consumers import Registry
from consumers.errors import PermanentError, RetryLater, StoreUnavailable
from consumers.handlers import Context, Event
from consumers.idempotency import Claim, IdempotencyStore, claim_key
from kafkaconfig.topics import ensure_topics
from schemas import Envelope
from schemas.stripe import StripeEvent
from schemas.topics import (
    HEADER_ATTEMPT,
    HEADER_ERROR_CLASS,
    HEADER_ERROR_MESSAGE,
    HEADER_ID,
    HEADER_ORIGINAL_OFFSET,
    HEADER_ORIGINAL_PARTITION,
    HEADER_ORIGINAL_TOPIC,
    GroupTopics,
)
from tests.integration.kafka_tools import committed_lag, envelope, headers_of, produce, read_topic
from tests.integration.polling import WAIT_S, eventually
from tests.integration.workers import GroupFactory, WorkerFactory, make_route, make_settings, running_worker


@pytest.fixture
def store(redis_client: redis.asyncio.Redis) -> IdempotencyStore:
    return IdempotencyStore(redis_client)


async def test_each_event_is_handled_once_and_committed(
    consumer_group: GroupFactory, worker: WorkerFactory, kafka_bootstrap: str
) -> None:
    consumers = await consumer_group()
    route, group = consumers.topics, consumers.name
    ids = [f"evt_{i}" for i in range(20)]
    await produce(kafka_bootstrap, route.topic, [(event_id, envelope(event_id)) for event_id in ids])

    running, stop = await worker(consumers)
    await eventually(lambda: running.outcome("ok") == 20, "20 events handled")
    await stop()

    assert sorted(event_id for event_id, _, _ in running.calls) == sorted(ids)
    assert running.sample("webhooks_consumed_total") == 20
    assert await committed_lag(kafka_bootstrap, group, [route.topic, route.retry_topic]) == 0
    lag = running.metrics.registry.get_sample_value(
        "webhooks_consumer_lag", {"group": group, "topic": route.topic, "partition": "0"}
    )
    assert lag is not None


async def test_the_same_event_three_times_runs_the_handler_once(
    consumer_group: GroupFactory, worker: WorkerFactory, kafka_bootstrap: str
) -> None:
    consumers = await consumer_group()
    route = consumers.topics

    running, stop = await worker(consumers)
    await produce(kafka_bootstrap, route.topic, [("evt_dup", envelope("evt_dup"))] * 2)
    await eventually(lambda: running.outcome("duplicate") == 1, "the first duplicate")
    # A redelivery much later (the provider retrying) is a duplicate as well.
    await produce(kafka_bootstrap, route.topic, [("evt_dup", envelope("evt_dup"))])
    await eventually(lambda: running.outcome("duplicate") == 2, "the second duplicate")
    await stop()

    assert [event_id for event_id, _, _ in running.calls] == ["evt_dup"]
    assert running.sample("webhooks_duplicates_total") == 2
    assert running.outcome("ok") == 1


async def test_two_groups_each_handle_the_event_once(
    kafka_bootstrap: str, redis_url: str, store: IdempotencyStore, unique: str
) -> None:
    first = make_settings(kafka_bootstrap, redis_url, f"a-{unique}")
    second = make_settings(kafka_bootstrap, redis_url, f"b-{unique}")
    route_a = make_route("hmac", unique, "a")
    route_b = make_route("hmac", unique, "b")
    await ensure_topics(first, [route_a.topic])
    await produce(kafka_bootstrap, route_a.topic, [("evt_1", envelope("evt_1"))] * 2)

    async with (
        running_worker(first, route_a, store) as (a, stop_a),
        running_worker(second, route_b, store) as (b, stop_b),
    ):
        await eventually(lambda: a.outcome("duplicate") == 1 and b.outcome("duplicate") == 1, "both groups")
        await stop_a()
        await stop_b()

    assert [call[0] for call in a.calls] == ["evt_1"]
    assert [call[0] for call in b.calls] == ["evt_1"]


async def test_a_payload_that_fails_the_model_a_handler_takes_goes_to_the_dlq_with_the_reason(
    consumer_group: GroupFactory, worker: WorkerFactory, kafka_bootstrap: str
) -> None:
    route, group, calls = await drain_bad_stripe_events(
        consumer_group, worker, kafka_bootstrap, typed=True, outcomes={"invalid": 2}
    )

    assert calls == []
    dead = {record.key: record for record in await read_topic(kafka_bootstrap, route.dlq_topic, expect=2)}
    bad = headers_of(dead[b"evt_bad"])
    assert dead[b"evt_bad"].value == NOT_A_STRIPE_EVENT
    assert bad[HEADER_ERROR_CLASS] == "InvalidEvent"
    assert bad[HEADER_ERROR_MESSAGE].startswith("invalid stripe payload: payload.object: Field required; ")
    assert "card-4242" not in bad[HEADER_ERROR_MESSAGE]
    assert bad[HEADER_ATTEMPT] == "1"
    assert bad[HEADER_ORIGINAL_TOPIC] == route.topic
    assert bad[HEADER_ID] == "evt_bad"
    assert {HEADER_ORIGINAL_PARTITION, HEADER_ORIGINAL_OFFSET} <= bad.keys()
    assert headers_of(dead[b"junk"])[HEADER_ERROR_CLASS] == "InvalidEvent"
    assert await committed_lag(kafka_bootstrap, group, [route.topic]) == 0


async def test_a_handler_that_takes_plain_json_gets_the_payload_unvalidated_but_never_a_record_without_an_envelope(
    consumer_group: GroupFactory, worker: WorkerFactory, kafka_bootstrap: str
) -> None:
    route, group, calls = await drain_bad_stripe_events(
        consumer_group, worker, kafka_bootstrap, typed=False, outcomes={"invalid": 1, "ok": 1}
    )

    assert calls == [("evt_bad", {"id": "evt_bad", "secret": "card-4242"})]
    [dead] = await read_topic(kafka_bootstrap, route.dlq_topic, expect=1)
    assert dead.key == b"junk"
    assert headers_of(dead)[HEADER_ERROR_MESSAGE].startswith("no valid envelope: ")
    assert await committed_lag(kafka_bootstrap, group, [route.topic]) == 0


# A Stripe event without the `object` its model requires, and a field that must never reach a header.
NOT_A_STRIPE_EVENT = envelope("evt_bad", provider="stripe", payload={"id": "evt_bad", "secret": "card-4242"})


async def drain_bad_stripe_events(
    consumer_group: GroupFactory,
    worker: WorkerFactory,
    kafka_bootstrap: str,
    *,
    typed: bool,
    outcomes: dict[str, int],
) -> tuple[GroupTopics, str, list[tuple[str, object]]]:
    """A Stripe event that fails the model and a record that is no envelope, drained by a worker whose handler
    takes `Event[StripeEvent]` (`typed`) or `Event[Any]` until the group counts `outcomes`: its topics, name and
    the handler's calls."""
    consumers = await consumer_group("stripe")
    registry, calls = stripe_registry(typed=typed)
    bad = [("evt_bad", NOT_A_STRIPE_EVENT), ("junk", b"not json")]
    await produce(kafka_bootstrap, consumers.topics.topic, bad, provider="stripe")
    running, stop = await worker(consumers, registry=registry)
    await eventually(lambda: all(running.outcome(name) == n for name, n in outcomes.items()), f"outcomes {outcomes}")
    await stop()
    return consumers.topics, consumers.name, calls


def stripe_registry(*, typed: bool) -> tuple[Registry[Any], list[tuple[str, object]]]:
    """A registry of one handler of every Stripe event, taking `Event[StripeEvent]` (`typed`) or `Event[Any]`; the
    calls it got, `(event id, payload)`."""
    calls: list[tuple[str, object]] = []
    registry: Registry[Any] = Registry()

    async def validated(event: Event[StripeEvent], context: Context) -> None:
        calls.append((event.id, event.payload))

    async def plain(event: Event[Any], context: Context) -> None:
        calls.append((event.id, event.payload))

    registry.add("stripe", "*", validated if typed else plain)
    return registry, calls


async def test_a_failure_is_retried_through_the_retry_topic_after_the_backoff(
    consumer_group: GroupFactory, worker: WorkerFactory, kafka_bootstrap: str
) -> None:
    consumers = await consumer_group(consumer_retry_backoff_ms=400)
    route, group = consumers.topics, consumers.name

    async def fail_once(event: Event[Any], context: Context) -> None:
        if context.attempt == 1:
            raise ConnectionError("agent API unreachable")

    await produce(kafka_bootstrap, route.topic, [("evt_1", envelope("evt_1"))])
    running, stop = await worker(consumers, fail_once)
    await eventually(lambda: running.outcome("ok") == 1, "the retry to succeed")
    await stop()

    assert [(event_id, attempt) for event_id, attempt, _ in running.calls] == [("evt_1", 1), ("evt_1", 2)]
    # Jitter waits between half and all of the backoff.
    assert running.calls[1][2] - running.calls[0][2] >= 0.2
    assert running.outcome("retried") == 1
    [retry] = await read_topic(kafka_bootstrap, route.retry_topic, expect=1)
    assert headers_of(retry)[HEADER_ERROR_CLASS] == "ConnectionError"
    assert headers_of(retry)[HEADER_ATTEMPT] == "2"
    assert await committed_lag(kafka_bootstrap, group, [route.topic, route.retry_topic]) == 0


async def test_a_handler_that_always_fails_ends_in_the_dlq_after_max_attempts(
    consumer_group: GroupFactory, worker: WorkerFactory, kafka_bootstrap: str, store: IdempotencyStore
) -> None:
    consumers = await consumer_group(consumer_max_attempts=3)
    route, group = consumers.topics, consumers.name

    async def always_fail(event: Event[Any], context: Context) -> None:
        raise RuntimeError("model overloaded")

    await produce(kafka_bootstrap, route.topic, [("evt_1", envelope("evt_1"))])
    running, stop = await worker(consumers, always_fail)
    await eventually(lambda: running.outcome("dead_lettered") == 1, "the dead letter")
    await stop()

    assert [attempt for _, attempt, _ in running.calls] == [1, 2, 3]
    assert running.outcome("retried") == 2
    [dead] = await read_topic(kafka_bootstrap, route.dlq_topic, expect=1)
    headers = headers_of(dead)
    assert headers[HEADER_ATTEMPT] == "3"
    assert headers[HEADER_ERROR_CLASS] == "RuntimeError"
    assert headers[HEADER_ERROR_MESSAGE] == "model overloaded"
    assert headers[HEADER_ORIGINAL_TOPIC] == route.topic
    assert dead.value == envelope_value(dead)
    assert await committed_lag(kafka_bootstrap, group, [route.topic, route.retry_topic]) == 0
    # A later redelivery of the dead-lettered event is handled again: its claim was released, not done.
    assert await store.claim([claim_key(group, "hmac", "evt_1")], "t", 1000) == [Claim.CLAIMED]


def envelope_value(record: Any) -> bytes:
    value: bytes = Envelope.from_bytes(record.value).to_bytes()
    return value


async def test_a_permanent_error_or_a_timeout_is_not_retried_forever(
    consumer_group: GroupFactory, worker: WorkerFactory, kafka_bootstrap: str
) -> None:
    consumers = await consumer_group(consumer_handler_timeout_s=0.2, consumer_max_attempts=2)
    route = consumers.topics

    async def behave(event: Event[Any], context: Context) -> None:
        if event.id == "permanent":
            raise PermanentError("unknown customer")
        await asyncio.sleep(10)

    await produce(kafka_bootstrap, route.topic, [("permanent", envelope("permanent")), ("slow", envelope("slow"))])
    running, stop = await worker(consumers, behave)
    await eventually(lambda: running.outcome("dead_lettered") == 2, "two dead letters")
    await stop()

    assert sorted((event_id, attempt) for event_id, attempt, _ in running.calls) == [
        ("permanent", 1),
        ("slow", 1),
        ("slow", 2),
    ]
    dead = {record.key: headers_of(record) for record in await read_topic(kafka_bootstrap, route.dlq_topic, expect=2)}
    assert dead[b"permanent"][HEADER_ERROR_CLASS] == "PermanentError"
    assert dead[b"permanent"][HEADER_ATTEMPT] == "1"
    assert dead[b"slow"][HEADER_ERROR_CLASS] == "HandlerTimeout"
    assert dead[b"slow"][HEADER_ATTEMPT] == "2"


async def test_a_waiting_retry_does_not_hold_up_new_events(
    consumer_group: GroupFactory, worker: WorkerFactory, kafka_bootstrap: str
) -> None:
    consumers = await consumer_group()
    route = consumers.topics

    async def later_once(event: Event[Any], context: Context) -> None:
        if event.id == "slow" and context.attempt == 1:
            raise RetryLater("rate limited", delay_s=1.5)

    running, stop = await worker(consumers, later_once)
    await produce(kafka_bootstrap, route.topic, [("slow", envelope("slow"))])
    await eventually(lambda: running.outcome("retried") == 1, "the retry")
    await produce(kafka_bootstrap, route.topic, [("fast", envelope("fast"))])
    await eventually(lambda: running.outcome("ok") == 2, "both events")
    await stop()

    assert [(event_id, attempt) for event_id, attempt, _ in running.calls] == [("slow", 1), ("fast", 1), ("slow", 2)]
    assert running.calls[2][2] - running.calls[0][2] >= 1.5


async def test_an_event_held_by_another_member_is_waited_for_never_skipped(
    consumer_group: GroupFactory, worker: WorkerFactory, kafka_bootstrap: str, store: IdempotencyStore
) -> None:
    consumers = await consumer_group()
    route, group = consumers.topics, consumers.name
    # Another member claimed both events and then crashed (evt_1) or finished (evt_2).
    keys = [claim_key(group, "hmac", "evt_1"), claim_key(group, "hmac", "evt_2")]
    assert await store.claim(keys, "other-member", 1500) == [Claim.CLAIMED] * 2
    await produce(kafka_bootstrap, route.topic, [("evt_1", envelope("evt_1")), ("evt_2", envelope("evt_2"))])

    running, stop = await worker(consumers)
    await eventually(lambda: running.sample("webhooks_consumed_total") == 2, "the fetch")
    await asyncio.sleep(0.5)
    assert running.calls == []
    assert await store.complete(keys[1:], "other-member") == [True]
    await eventually(lambda: running.outcome("duplicate") == 1 and running.outcome("ok") == 1, "both resolved")
    await stop()

    assert [event_id for event_id, _, _ in running.calls] == ["evt_1"]
    assert await committed_lag(kafka_bootstrap, group, [route.topic]) == 0


class FlakyStore(IdempotencyStore):
    """The real store, down for its first `outages` claims."""

    def __init__(self, client: redis.asyncio.Redis, outages: int) -> None:
        super().__init__(client)
        self.outages = outages

    async def claim(self, keys: Sequence[str], token: str, lease_ms: int, *, force: bool = False) -> list[Claim]:
        if self.outages > 0:
            self.outages -= 1
            raise StoreUnavailable("Redis is unavailable: ConnectionError")
        return await super().claim(keys, token, lease_ms, force=force)


async def test_redis_down_pauses_and_skips_nothing(
    consumer_group: GroupFactory, worker: WorkerFactory, kafka_bootstrap: str, redis_client: redis.asyncio.Redis
) -> None:
    consumers = await consumer_group()
    route, group = consumers.topics, consumers.name
    store = FlakyStore(redis_client, outages=3)
    await produce(kafka_bootstrap, route.topic, [(f"evt_{i}", envelope(f"evt_{i}")) for i in range(5)])

    running, stop = await worker(consumers, store=store)
    await eventually(lambda: running.outcome("ok") == 5, "all events after the outage")
    await stop()

    assert store.outages == 0
    assert sorted(event_id for event_id, _, _ in running.calls) == [f"evt_{i}" for i in range(5)]
    assert await committed_lag(kafka_bootstrap, group, [route.topic]) == 0


async def test_stop_lets_in_flight_handlers_finish_and_commits(
    consumer_group: GroupFactory, worker: WorkerFactory, kafka_bootstrap: str
) -> None:
    consumers = await consumer_group(consumer_shutdown_grace_s=5)
    route, group = consumers.topics, consumers.name
    started, finish = asyncio.Event(), asyncio.Event()

    async def slow(event: Event[Any], context: Context) -> None:
        started.set()
        await finish.wait()

    await produce(kafka_bootstrap, route.topic, [("evt_1", envelope("evt_1"))])
    running, stop = await worker(consumers, slow)
    await asyncio.wait_for(started.wait(), WAIT_S)
    stopping = asyncio.create_task(stop())
    await asyncio.sleep(0.2)
    assert not stopping.done()
    finish.set()
    await stopping

    assert running.outcome("ok") == 1
    assert await committed_lag(kafka_bootstrap, group, [route.topic]) == 0


async def test_stop_past_the_grace_releases_the_claim_and_commits_nothing_unfinished(
    consumer_group: GroupFactory, worker: WorkerFactory, kafka_bootstrap: str, redis_client: redis.asyncio.Redis
) -> None:
    consumers = await consumer_group(consumer_shutdown_grace_s=0.2)
    route, group = consumers.topics, consumers.name
    started = asyncio.Event()

    async def stuck(event: Event[Any], context: Context) -> None:
        started.set()
        await asyncio.sleep(60)

    await produce(kafka_bootstrap, route.topic, [("evt_1", envelope("evt_1"))])
    running, stop = await worker(consumers, stuck)
    await asyncio.wait_for(started.wait(), WAIT_S)
    await stop()

    assert running.outcome("ok") == 0
    assert await redis_client.exists(claim_key(group, "hmac", "evt_1")) == 0
    assert await committed_lag(kafka_bootstrap, group, [route.topic]) == 1


async def test_a_claim_is_renewed_while_a_slow_handler_runs(
    consumer_group: GroupFactory, worker: WorkerFactory, kafka_bootstrap: str, redis_client: redis.asyncio.Redis
) -> None:
    # The handler's own timeout (2 s) rules its run, not the group's (0.5 s); both outlast the lease (300 ms).
    consumers = await consumer_group(consumer_lease_ms=300, consumer_handler_timeout_s=0.5)
    route, group = consumers.topics, consumers.name
    key = claim_key(group, "hmac", "evt_1")
    other_member: list[Claim] = []
    registry = Registry()

    @registry.handler("hmac", timeout_s=2)
    async def slow(event: Event[Any], context: Context) -> None:
        # Another member of the group reads the event meanwhile (a copy on its partition): held all along.
        for _ in range(8):
            other_member.extend(await IdempotencyStore(redis_client).claim([key], "another member", 300))
            await asyncio.sleep(0.1)

    await produce(kafka_bootstrap, route.topic, [("evt_1", envelope("evt_1"))])
    running, stop = await worker(consumers, registry=registry)
    await eventually(lambda: running.outcome("ok") == 1, "the slow handler")
    await stop()

    # Held past two lease lengths, and still ours at the end: marked done, so a redelivery is a duplicate.
    assert other_member == [Claim.HELD] * 8
    assert await IdempotencyStore(redis_client).is_done([key]) == [True]
