"""Redis refuses calls (NOREPLICAS, NOPERM, BUSY) while handlers run: nothing is dropped, nothing runs twice,
claims stay renewed, and a worker that lost a claim stops its handler. A Redis server of each test's own.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest
import redis.asyncio

from consumers import Context, Event, Registry
from consumers.idempotency import IdempotencyStore, claim_key
from kafkaconfig.topics import ensure_topics
from tests.integration.kafka_tools import committed_lag, envelope, produce
from tests.integration.polling import eventually
from tests.integration.redis_faults import PASSWORD, USER, OwnRedis, Proxy, own_redis
from tests.integration.workers import (
    GroupFactory,
    counting_registry,
    make_route,
    make_settings,
    outcome,
    running_worker,
)


@pytest.fixture
async def server(unique: str) -> AsyncIterator[OwnRedis]:
    async with own_redis(unique) as own:
        yield own


@pytest.mark.parametrize("fault", ["noreplicas", "noperm", "busy"])
async def test_refused_redis_calls_are_waited_out_never_dropped_nor_run_twice(
    consumer_group: GroupFactory, kafka_bootstrap: str, server: OwnRedis, unique: str, fault: str
) -> None:
    consumers = await consumer_group(redis_url=server.url, consumer_concurrency=4, consumer_lease_ms=3000)
    settings, route, group = consumers.settings, consumers.topics, consumers.name
    client = server.client()
    registry, calls = counting_registry(delay_s=0.5)

    first = [f"evt_{i}" for i in range(8)]
    later = [f"late_{i}" for i in range(3)]
    try:
        async with running_worker(settings, route, IdempotencyStore(client), registry=registry) as (metrics, stop):
            await produce(kafka_bootstrap, route.topic, [(i, envelope(i)) for i in first])
            await eventually(lambda: sum(calls.values()) >= 2, "handlers to start")
            async with server.refusing(fault):
                await asyncio.sleep(2)
            await produce(kafka_bootstrap, route.topic, [(i, envelope(i)) for i in later])
            await eventually(
                lambda: outcome(metrics, route.provider, group, "ok") == 11, "every event once Redis takes calls"
            )
            stopping = time.monotonic()
            await stop()
            stopped_s = time.monotonic() - stopping
        # A second member of the group (a deploy) finds nothing left to do.
        async with running_worker(settings, route, IdempotencyStore(client), registry=registry) as (metrics, stop):
            await asyncio.sleep(1)
            await stop()
    finally:
        await client.aclose()

    assert calls == Counter(dict.fromkeys(first + later, 1))
    assert stopped_s < 5
    assert await committed_lag(kafka_bootstrap, group, [route.topic]) == 0
    keys = [claim_key(group, "hmac", event_id) for event_id in first + later]
    assert await IdempotencyStore(server.admin).is_done(keys) == [True] * len(keys)


async def test_claims_stay_renewed_through_a_refusal_also_those_waiting_for_a_slot(
    consumer_group: GroupFactory, kafka_bootstrap: str, server: OwnRedis, unique: str
) -> None:
    # One handler at a time, running until released (past three leases): the second event's claim waits for the
    # slot. Renewed every third of a lease, a claim outlives one refused renewal (not two: that is a lost claim).
    consumers = await consumer_group(
        redis_url=server.url, consumer_concurrency=1, consumer_lease_ms=1500, consumer_handler_timeout_s=9
    )
    settings, route, group = consumers.settings, consumers.topics, consumers.name
    client = server.client()
    calls: Counter[str] = Counter()
    release = asyncio.Event()
    registry = Registry()

    @registry.handler("hmac", "*")
    async def handle(event: Event[Any], context: Context) -> None:
        calls[event.id] += 1
        if event.id == "slow":
            await asyncio.wait_for(release.wait(), 8)  # within the handler timeout

    keys = [claim_key(group, "hmac", event_id) for event_id in ("slow", "queued")]
    try:
        async with running_worker(settings, route, IdempotencyStore(client), registry=registry) as (metrics, stop):
            # One partition for both, so that the second is claimed while the first runs.
            await produce(kafka_bootstrap, route.topic, [("slow", envelope("slow"))])
            await eventually(lambda: calls["slow"] == 1, "the slow handler to start")
            await produce(kafka_bootstrap, route.topic, [("queued", envelope("queued"))])
            await eventually_async(lambda: _same_holder(server, keys), "the queued event claimed, waiting for the slot")
            async with server.refusing("noreplicas"):
                await asyncio.sleep(0.4)
            # Two leases after the refusal: both claims are still this worker's.
            await asyncio.sleep(3)
            held = await server.admin.mget(keys)
            release.set()
            await eventually(lambda: outcome(metrics, route.provider, group, "ok") == 2, "both events")
            await stop()
    finally:
        await client.aclose()

    # Both still hold the worker's claim token.
    assert held[0] == held[1]
    assert held[0] not in (None, b"done")
    assert calls == Counter({"slow": 1, "queued": 1})


async def test_a_worker_that_loses_a_claim_stops_its_handler_and_leaves_the_event_to_the_holder(
    consumer_group: GroupFactory, kafka_bootstrap: str, server: OwnRedis, unique: str
) -> None:
    consumers = await consumer_group(redis_url=server.url, consumer_lease_ms=900, consumer_handler_timeout_s=5)
    settings, route, group = consumers.settings, consumers.topics, consumers.name
    client = server.client()
    started: Counter[str] = Counter()
    finished: Counter[str] = Counter()
    registry = Registry()

    @registry.handler("hmac", "*")
    async def handle(event: Event[Any], context: Context) -> None:
        started[event.id] += 1
        await asyncio.sleep(4)
        finished[event.id] += 1

    key = claim_key(group, "hmac", "evt_1")
    try:
        async with running_worker(settings, route, IdempotencyStore(client), registry=registry) as (metrics, stop):
            await produce(kafka_bootstrap, route.topic, [("evt_1", envelope("evt_1"))])
            await eventually(lambda: started["evt_1"] == 1, "the handler to start")
            # Another member took the event over (this one was cut off longer than the lease) and finished it.
            await server.admin.set(key, "other-member", px=60_000)
            fenced_at = time.monotonic()
            await asyncio.sleep(0.6)
            assert await IdempotencyStore(server.admin).complete([key], "other-member") == [True]
            await eventually(lambda: outcome(metrics, route.provider, group, "duplicate") == 1, "the event to resolve")
            resolved_s = time.monotonic() - fenced_at
            await stop()
    finally:
        await client.aclose()

    assert finished["evt_1"] == 0, "the handler ran on after its claim was lost"
    assert resolved_s < 3
    assert await committed_lag(kafka_bootstrap, group, [route.topic]) == 0


async def test_a_failover_behind_one_address_is_followed_not_retried_on_the_old_primary(
    kafka_bootstrap: str, server: OwnRedis, unique: str
) -> None:
    group = f"g-{unique}"
    async with own_redis(f"{unique}-b") as standby, Proxy(server.port) as proxy:
        await standby.admin.replicaof("127.0.0.1", server.port)
        await eventually_async(lambda: _linked(standby), "the standby to sync")
        url = f"redis://{USER}:{PASSWORD}@127.0.0.1:{proxy.port}/0"
        settings = make_settings(kafka_bootstrap, url, group, consumer_concurrency=2)
        route = make_route("hmac", unique, group)
        await ensure_topics(settings, [route.topic, route.retry_topic, route.dlq_topic])
        client = redis.asyncio.Redis.from_url(url, socket_timeout=2, socket_connect_timeout=1)
        registry, calls = counting_registry(delay_s=0.3)

        first = [f"evt_{i}" for i in range(6)]
        later = [f"late_{i}" for i in range(4)]
        try:
            async with running_worker(settings, route, IdempotencyStore(client), registry=registry) as (metrics, stop):
                await produce(kafka_bootstrap, route.topic, [(i, envelope(i)) for i in first])
                await eventually(lambda: outcome(metrics, route.provider, group, "ok") >= 2, "the stream to get going")
                # The failover: the standby takes over, the old primary follows it, the address moves.
                await standby.admin.replicaof("NO", "ONE")
                await server.admin.replicaof("127.0.0.1", standby.port)
                proxy.target = standby.port
                await produce(kafka_bootstrap, route.topic, [(i, envelope(i)) for i in later])
                await eventually(
                    lambda: outcome(metrics, route.provider, group, "ok") == 10, "every event after the failover"
                )
                left_on_old = [c for c in await server.admin.client_list() if c["user"] == USER]
                await stop()
        finally:
            await client.aclose()

        assert calls == Counter(dict.fromkeys(first + later, 1))
        keys = [claim_key(group, "hmac", event_id) for event_id in first + later]
        assert await IdempotencyStore(standby.admin).is_done(keys) == [True] * len(keys)
        # Pooled connections to the demoted node are dropped at its first READONLY, not kept to fail again.
        assert left_on_old == []


async def _linked(replica: OwnRedis) -> bool:
    info = await replica.admin.info("replication")
    return bool(info.get("master_link_status") == "up")


async def _same_holder(server: OwnRedis, keys: list[str]) -> bool:
    first, second = await server.admin.mget(keys)
    return first is not None and first == second


async def eventually_async(check: Callable[[], Awaitable[bool]], what: str, timeout_s: float = 10) -> None:
    deadline = time.monotonic() + timeout_s
    while not await check():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.05)
