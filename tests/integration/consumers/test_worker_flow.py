"""Flow through a worker on the real broker and Redis: per-key order under concurrency, slow handlers without a
rebalance loop, retries with growing delays beside a flowing partition, and a rebalance that hands work over.
"""

from __future__ import annotations

import asyncio
import itertools
import random
import time
from collections import defaultdict
from typing import Any

import redis.asyncio
from aiokafka.partitioner import DefaultPartitioner

from consumers import Context, Event, Registry
from consumers.idempotency import IdempotencyStore, claim_key
from consumers.kafka import KafkaClient, Partition
from consumers.settings import Settings
from schemas.topics import (
    HEADER_ATTEMPT,
    HEADER_ERROR_CLASS,
    HEADER_ERROR_MESSAGE,
    HEADER_NOT_BEFORE,
    HEADER_ORIGINAL_OFFSET,
    HEADER_ORIGINAL_PARTITION,
    HEADER_ORIGINAL_TOPIC,
)
from tests.integration.kafka_tools import committed_lag, envelope, headers_of, produce, produce_keyed, read_topic
from tests.integration.polling import WAIT_S, eventually
from tests.integration.workers import PARTITIONS, GroupFactory, WorkerFactory, outcome


class CountingKafka(KafkaClient):
    """The real adapter, counting the group's assignments to this member (one per rebalance it takes part in)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.assignments = 0
        self.revocations = 0

    async def start(self, topics: Any, *, on_revoked: Any, on_assigned: Any = None) -> None:
        async def revoked(parts: list[Partition]) -> None:
            if parts:
                self.revocations += 1
            await on_revoked(parts)

        def assigned(parts: list[Partition]) -> None:
            self.assignments += 1
            on_assigned(parts)

        await super().start(topics, on_revoked=revoked, on_assigned=assigned)


# The producer's partitioner: where a key's records go.
partition_of = DefaultPartitioner()


def counting_kafka(settings: Settings) -> CountingKafka:
    return CountingKafka.from_settings(settings)


async def test_records_of_one_key_run_in_order_while_keys_run_concurrently(
    consumer_group: GroupFactory, worker: WorkerFactory, kafka_bootstrap: str
) -> None:
    consumers = await consumer_group(consumer_concurrency=6)
    route, group = consumers.topics, consumers.name
    keys, per_key = [f"customer-{k}" for k in range(8)], 12
    # One stream per key (a customer's events), interleaved: key k's i-th event is `k:i`.
    records = [(key, f"{key}:{i}") for i in range(per_key) for key in keys]
    await produce_keyed(kafka_bootstrap, route.topic, records)

    seen: dict[str, list[int]] = defaultdict(list)
    running: set[str] = set()
    peak = 0

    registry = Registry()

    @registry.handler("hmac", "*")
    async def handle(event: Event[Any], context: Context) -> None:
        nonlocal peak
        key, index = event.id.rsplit(":", 1)
        assert key not in running, f"two events of {key} at once"
        running.add(key)
        peak = max(peak, len(running))
        await asyncio.sleep(random.uniform(0.001, 0.03))
        seen[key].append(int(index))
        running.discard(key)

    started = time.monotonic()
    metrics, stop = await worker(consumers, registry=registry)
    await eventually(lambda: outcome(metrics, route.provider, group, "ok") == len(records), "every event")
    elapsed = time.monotonic() - started
    await stop()

    assert {key: seen[key] for key in keys} == {key: list(range(per_key)) for key in keys}
    assert 1 < peak <= 6, peak
    assert await committed_lag(kafka_bootstrap, group, [route.topic]) == 0
    print(f"\norder: {len(records)} events of {len(keys)} keys in {elapsed:.1f}s, peak {peak} concurrent, in order")


async def test_a_handler_slower_than_the_poll_interval_does_not_make_the_group_rebalance(
    consumer_group: GroupFactory, worker: WorkerFactory, kafka_bootstrap: str
) -> None:
    # A member that does not fetch for 1.5 s is dropped from the group; the handler takes 4.5 s.
    consumers = await consumer_group(consumer_max_poll_interval_ms=1500, consumer_handler_timeout_s=10)
    settings, route, group = consumers.settings, consumers.topics, consumers.name
    calls: list[str] = []

    registry = Registry()

    @registry.handler("hmac", "*")
    async def slow(event: Event[Any], context: Context) -> None:
        calls.append(event.id)
        if event.id == "slow":
            await asyncio.sleep(4.5)

    kafka = counting_kafka(settings)
    running, stop = await worker(consumers, registry=registry, kafka=kafka)
    await eventually(lambda: kafka.assignments >= 1, "the first assignment")
    await produce(kafka_bootstrap, route.topic, [("slow", envelope("slow"))])
    await eventually(lambda: calls == ["slow"], "the slow handler to start")
    # Meanwhile the other partition keeps flowing.
    await produce(kafka_bootstrap, route.topic, [(f"fast_{i}", envelope(f"fast_{i}")) for i in range(10)])
    await eventually(lambda: running.outcome("ok") == 11, "every event", timeout_s=15)
    await stop()

    assert kafka.assignments == 1
    assert kafka.revocations == 0
    assert sorted(calls) == sorted(["slow", *(f"fast_{i}" for i in range(10))])
    assert await committed_lag(kafka_bootstrap, group, [route.topic]) == 0


async def test_a_partition_takes_two_batches_at_most_while_its_handlers_run(
    consumer_group: GroupFactory, worker: WorkerFactory, kafka_bootstrap: str
) -> None:
    # Batches of 5, handler slots for all: with every handler held, each of the 2 partitions takes 2 batches (the
    # next one is read while the one before runs), and no more until they are done. A fetch takes up to a batch of
    # whatever a partition has, so one that is a record short of full may take most of a batch more: 10 to 14.
    consumers = await consumer_group(consumer_max_batch=5, consumer_concurrency=64, consumer_handler_timeout_s=30)
    release = asyncio.Event()
    started: list[str] = []

    registry = Registry()

    @registry.handler("hmac", "*")
    async def held(event: Event[Any], context: Context) -> None:
        started.append(event.id)
        await release.wait()

    def per_partition() -> list[int]:
        counts, partitions = [0] * PARTITIONS, list(range(PARTITIONS))
        for event_id in started:
            counts[partition_of(event_id.encode(), partitions, partitions)] += 1
        return counts

    running, stop = await worker(consumers, registry=registry)
    # These 40 ids fall 17 and 23 on the group's 2 partitions: more than two batches each.
    ids = [f"held_{i}" for i in range(40)]
    await produce(kafka_bootstrap, consumers.topics.topic, [(event_id, envelope(event_id)) for event_id in ids])
    await eventually(lambda: min(per_partition()) >= 10, "two batches of each partition to start")
    await asyncio.sleep(1.0)  # past BUSY_WAIT_S: the full partitions are paused, the loop keeps fetching
    assert all(10 <= count < 15 for count in per_partition()), per_partition()
    release.set()
    await eventually(lambda: running.outcome("ok") == 40, "every event")
    await stop()
    assert sorted(started) == sorted(ids)


async def test_retries_back_off_growing_then_dead_letter_while_the_partition_flows(
    consumer_group: GroupFactory, worker: WorkerFactory, kafka_bootstrap: str
) -> None:
    consumers = await consumer_group(
        consumer_retry_backoff_ms=300, consumer_max_attempts=4, consumer_handler_timeout_s=WAIT_S + 5
    )
    route, group = consumers.topics, consumers.name
    attempts: list[float] = []
    others: list[float] = []
    all_others = asyncio.Event()

    registry = Registry()

    @registry.handler("hmac", "*")
    async def flaky(event: Event[Any], context: Context) -> None:
        if event.id == "evt_flaky":
            attempts.append(time.monotonic())
            assert context.attempt == len(attempts)
            if context.attempt == 2:
                # The first retry waits for every event written behind it: were they held up by the retries
                # (their partitions stopped at the failed record), this would time out, not they come through.
                await asyncio.wait_for(all_others.wait(), WAIT_S)
            raise ConnectionError("agent API: 503")
        others.append(time.monotonic())
        if len(others) == 20:
            all_others.set()

    metrics, stop = await worker(consumers, registry=registry)
    # The flaky event first, then others on every partition (its own too), behind it.
    ids = ["evt_flaky", *(f"evt_{i}" for i in range(20))]
    await produce(kafka_bootstrap, route.topic, [(event_id, envelope(event_id)) for event_id in ids])
    await eventually(lambda: outcome(metrics, route.provider, group, "dead_lettered") == 1, "the dead letter")
    await stop()

    gaps = [later - earlier for earlier, later in itertools.pairwise(attempts)]
    assert len(attempts) == 4
    assert len(others) == 20
    assert max(others) < attempts[2], "the other events were held up by the retries"
    # Backoff 300 ms doubling, with jitter between half and all of it: the delays each retry record asked for
    # (not-before minus its write time, a few ms after not-before was set) are 150-300, 300-600 and 600-1200 ms,
    # growing, and no attempt came sooner.
    retries = await read_topic(kafka_bootstrap, route.retry_topic, expect=3)
    delays = [int(headers_of(r)[HEADER_NOT_BEFORE]) - r.timestamp for r in sorted(retries, key=lambda r: r.offset)]
    assert [150 * 2**k - 50 <= delay <= 300 * 2**k for k, delay in enumerate(delays)] == [True] * 3, delays
    assert [gap >= delay / 1000 - 0.01 for gap, delay in zip(gaps, delays, strict=True)] == [True] * 3, gaps
    assert outcome(metrics, route.provider, group, "retried") == 3
    [dead] = await read_topic(kafka_bootstrap, route.dlq_topic, expect=1)
    headers = headers_of(dead)
    assert headers[HEADER_ATTEMPT] == "4"
    assert headers[HEADER_ERROR_CLASS] == "ConnectionError"
    assert headers[HEADER_ERROR_MESSAGE] == "agent API: 503"
    assert headers[HEADER_ORIGINAL_TOPIC] == route.topic
    assert {HEADER_ORIGINAL_PARTITION, HEADER_ORIGINAL_OFFSET} <= headers.keys()
    assert await committed_lag(kafka_bootstrap, group, [route.topic, route.retry_topic]) == 0
    print(f"\nretries: gaps {', '.join(f'{gap:.2f}s' for gap in gaps)}; 20 other events handled meanwhile")


async def test_a_rebalance_commits_what_is_done_and_releases_what_is_not(
    consumer_group: GroupFactory, worker: WorkerFactory, kafka_bootstrap: str, redis_client: redis.asyncio.Redis
) -> None:
    # A lease far longer than the test: an event handed over by the rebalance is free only if it was released.
    consumers = await consumer_group(consumer_shutdown_grace_s=0.5, consumer_lease_ms=60_000)
    settings, route, group = consumers.settings, consumers.topics, consumers.name
    ids = [f"evt_{i}" for i in range(20)]
    started: dict[str, int] = defaultdict(int)
    finished: dict[str, int] = defaultdict(int)
    first_member_busy = asyncio.Event()

    registry = Registry()

    @registry.handler("hmac", "*")
    async def handle(event: Event[Any], context: Context) -> None:
        started[event.id] += 1
        if event.id in ("evt_0", "evt_1") and started[event.id] == 1:
            first_member_busy.set()
            await asyncio.sleep(30)  # cut off by the rebalance, past the grace
        finished[event.id] += 1

    first_kafka = counting_kafka(settings)
    first, stop_first = await worker(consumers, registry=registry, kafka=first_kafka)
    await produce(kafka_bootstrap, route.topic, [(event_id, envelope(event_id)) for event_id in ids])
    await asyncio.wait_for(first_member_busy.wait(), WAIT_S)
    await eventually(lambda: sum(finished.values()) == 18, "the quick events")
    second, stop_second = await worker(consumers, registry=registry)
    handed_over = time.monotonic()
    await eventually(lambda: finished["evt_0"] == 1 and finished["evt_1"] == 1, "the handed-over events")
    took_s = time.monotonic() - handed_over
    await eventually(
        lambda: sum(outcome(m, route.provider, group, "ok") for m in (first, second)) == 20,
        "every event counted",
    )
    await stop_second()
    await stop_first()

    assert first_kafka.revocations >= 1
    assert dict(finished) == dict.fromkeys(ids, 1)
    # The cut-off events were released (not left to their 60 s lease) and ran again; the rest ran once.
    assert took_s < 15
    assert {event_id: started[event_id] for event_id in ("evt_0", "evt_1")} == {"evt_0": 2, "evt_1": 2}
    # What was done before the rebalance ran once; above a commit point it came back as a duplicate only.
    assert all(started[event_id] == 1 for event_id in ids[2:])
    duplicates = sum(outcome(m, route.provider, group, "duplicate") for m in (first, second))
    print(f"\nrebalance: 2 cut off and released, handed over in {took_s:.1f}s; {duplicates:.0f} duplicates dropped")
    assert await committed_lag(kafka_bootstrap, group, [route.topic]) == 0
    for event_id in ids:
        assert await IdempotencyStore(redis_client).is_done([claim_key(group, "hmac", event_id)]) == [True]
