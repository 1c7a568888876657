"""Replays that must not run an event twice or lose a `done` mark: many dead copies of one event, a forced
replay that fails, a rate slower than the lease, a handler slower than it, a renewal stalled on a silent
connection, a Redis that refuses calls for a moment; and a replay that starts running before it has read the
whole DLQ.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import AsyncIterator
from typing import Any

import pytest
import redis.asyncio

from consumers import Context, Event, Registry
from consumers.idempotency import Claim, IdempotencyStore, claim_key
from consumers.replay import Replayer, Selection, Summary
from kafkaconfig.topics import ensure_topics
from schemas.topics import GroupTopics
from tests.integration.kafka_tools import dead_letter
from tests.integration.redis_faults import OwnRedis, another_members_claims, own_redis, proxied
from tests.integration.workers import counting_registry, make_route, make_settings


@pytest.fixture
async def server(unique: str) -> AsyncIterator[OwnRedis]:
    async with own_redis(unique) as own:
        yield own


async def replay(
    kafka_bootstrap: str,
    redis_url: str,
    client: redis.asyncio.Redis,
    route: GroupTopics,
    group: str,
    registry: Registry,
    *,
    force: bool = False,
    lease_ms: int = 60_000,
    rate_per_s: float = 100,
) -> Summary:
    settings = make_settings(kafka_bootstrap, redis_url, group, consumer_max_attempts=5, consumer_lease_ms=lease_ms)
    replayer = Replayer.from_settings(
        settings, registry, IdempotencyStore(client), rate_per_s=rate_per_s, force=force, out=lambda _: None
    )
    return await replayer.run([route], Selection())


async def dead_route(kafka_bootstrap: str, redis_url: str, unique: str, ids: list[str]) -> tuple[GroupTopics, str]:
    group = f"g-{unique}"
    route = make_route("hmac", unique, group)
    await ensure_topics(make_settings(kafka_bootstrap, redis_url, group), [route.dlq_topic])
    await dead_letter(kafka_bootstrap, route, ids)
    return route, group


async def test_a_forced_replay_runs_each_event_once_however_many_dead_copies_it_has(
    kafka_bootstrap: str, redis_url: str, redis_client: redis.asyncio.Redis, unique: str
) -> None:
    # The same event dead-lettered three times (a provider's redeliveries each failing) and one other.
    route, group = await dead_route(kafka_bootstrap, redis_url, unique, ["evt_a", "evt_a", "evt_b", "evt_a"])
    registry, runs = counting_registry()

    summary = await replay(kafka_bootstrap, redis_url, redis_client, route, group, registry, force=True)

    assert runs == Counter({"evt_a": 1, "evt_b": 1})
    assert (summary.selected, summary.handled, summary.duplicates) == (4, 2, 2)


async def test_a_failing_forced_replay_keeps_the_earlier_done_mark(
    kafka_bootstrap: str, redis_url: str, redis_client: redis.asyncio.Redis, unique: str
) -> None:
    route, group = await dead_route(kafka_bootstrap, redis_url, unique, ["evt_done"])
    key = claim_key(group, "hmac", "evt_done")
    store = IdempotencyStore(redis_client)
    await store.claim([key], "an-earlier-run", 60_000)
    await store.complete([key], "an-earlier-run")
    registry = Registry()

    @registry.handler("hmac", "*")
    async def broken(event: Event[Any], context: Context) -> None:
        raise RuntimeError("still broken")

    summary = await replay(kafka_bootstrap, redis_url, redis_client, route, group, registry, force=True)

    assert summary.failed == 1
    # A worker reading the event again (a provider's late redelivery) still finds it handled.
    assert await store.is_done([key]) == [True]


async def test_a_replay_slower_than_the_lease_keeps_its_claims(
    kafka_bootstrap: str, redis_url: str, redis_client: redis.asyncio.Redis, unique: str
) -> None:
    route, group = await dead_route(kafka_bootstrap, redis_url, unique, ["evt_1", "evt_2"])
    # Each handler runs three leases long, and the rate spaces the runs further apart than a lease.
    owner_at: dict[str, list[object]] = {}
    registry = Registry()

    @registry.handler("hmac", "*")
    async def slow(event: Event[Any], context: Context) -> None:
        key = claim_key(group, "hmac", event.id)
        owner_at[event.id] = [await redis_client.get(key)]
        await asyncio.sleep(1.5)
        owner_at[event.id].append(await redis_client.get(key))

    summary = await replay(kafka_bootstrap, redis_url, redis_client, route, group, registry, lease_ms=500, rate_per_s=1)

    assert summary.handled == 2
    for event_id in ("evt_1", "evt_2"):
        first, last = owner_at[event_id]
        assert first is not None, f"{event_id}: the claim lapsed before the handler started"
        assert last == first, f"{event_id}: the claim lapsed while the handler ran"


async def test_a_replay_keeps_its_claim_through_a_renewal_stalled_on_a_silent_connection(
    kafka_bootstrap: str, redis_url: str, redis_client: redis.asyncio.Redis, unique: str
) -> None:
    route, group = await dead_route(kafka_bootstrap, redis_url, unique, ["evt_stalled"])
    key = claim_key(group, "hmac", "evt_stalled")
    lease_ms = 1500
    answers: list[Claim] = []
    registry = Registry()

    @registry.handler("hmac", "*")
    async def slow(event: Event[Any], context: Context) -> None:
        # The replay's first renewal goes out on a connection gone silent; the network is back within the lease.
        proxy.stall()
        await asyncio.sleep(0.8)
        proxy.resume()
        answers.extend(await another_members_claims(redis_client, key, for_s=2.5, lease_ms=lease_ms))

    async with proxied(redis_client) as (proxy, client):
        summary = await replay(kafka_bootstrap, redis_url, client, route, group, registry, lease_ms=lease_ms)

    assert (summary.handled, summary.busy) == (1, 0)
    assert answers == [Claim.HELD] * len(answers)
    assert await IdempotencyStore(redis_client).is_done([key]) == [True]


async def test_a_replay_rides_out_redis_refusing_calls(kafka_bootstrap: str, server: OwnRedis, unique: str) -> None:
    ids = [f"evt_{i}" for i in range(6)]
    route, group = await dead_route(kafka_bootstrap, server.url, unique, ids)
    client = server.client()
    registry, runs = counting_registry()

    async def refuse_a_moment() -> None:
        await asyncio.sleep(0.3)
        async with server.refusing("noreplicas"):
            await asyncio.sleep(1)

    try:
        refusing = asyncio.create_task(refuse_a_moment())
        summary = await replay(kafka_bootstrap, server.url, client, route, group, registry, rate_per_s=5)
        await refusing
    finally:
        await client.aclose()

    assert (summary.handled, summary.complete) == (6, True)
    assert runs == Counter(dict.fromkeys(ids, 1))


async def test_a_replay_runs_records_as_it_reads_them(
    kafka_bootstrap: str, redis_url: str, redis_client: redis.asyncio.Redis, unique: str
) -> None:
    route, group = await dead_route(kafka_bootstrap, redis_url, unique, ["evt_1", "evt_2", "evt_3"])
    group_settings = make_settings(kafka_bootstrap, redis_url, group)
    # Dead letters read when each one was done with.
    read_when_done: list[int] = []
    registry = Registry()

    @registry.handler("hmac", "*")
    async def handle(event: Event[Any], context: Context) -> None:
        pass

    store = IdempotencyStore(redis_client)
    replayer = Replayer.from_settings(group_settings, registry, store, rate_per_s=100, out=lambda _: None)
    summary = await replayer.run([route], Selection(), lambda so_far: read_when_done.append(so_far.read))

    assert read_when_done == [1, 2, 3]
    assert summary.handled == 3
