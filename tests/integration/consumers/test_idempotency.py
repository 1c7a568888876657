"""The Redis claim protocol against the real Redis: claim, done, held, release, expiry, one round trip."""

from __future__ import annotations

import asyncio
import hashlib
import time
from collections.abc import Sequence

import pytest
import redis.asyncio
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff

from consumers import scripts
from consumers.claims import ClaimBatcher
from consumers.errors import StoreUnavailable
from consumers.idempotency import DONE, Claim, IdempotencyStore, claim_key
from consumers.windows import RememberWindows
from tests.integration.ports import free_port
from tests.integration.redis_faults import own_redis

LEASE_MS = 60_000
WEEK_S = 604_800


def test_key_layout_is_the_public_one() -> None:
    # The hash tag: group, provider and shard (the first byte of the event id's BLAKE2b-128 digest, modulo 64).
    assert claim_key("agents", "stripe", "evt_1") == "webhooks:idem:{agents:stripe:2a}:evt_1"


async def test_claim_then_duplicate_after_complete(redis_client: redis.asyncio.Redis) -> None:
    store = IdempotencyStore(redis_client)
    keys = [claim_key("g", "hmac", f"e{i}") for i in range(3)]

    assert await store.claim(keys, "mine", LEASE_MS) == [Claim.CLAIMED] * 3
    assert await store.claim(keys, "theirs", LEASE_MS) == [Claim.HELD] * 3
    assert await store.complete(keys, "mine") == [True] * 3

    assert await store.claim(keys, "theirs", LEASE_MS) == [Claim.DONE] * 3
    # The claims are gone; the marks are in the done tables, kept at least the window (7 days by default).
    assert await redis_client.exists(*keys) == 0
    tables = [key async for key in redis_client.scan_iter(match="webhooks:done:*")]
    assert tables
    assert all(key.startswith(b"webhooks:done:{g:hmac:") for key in tables)
    assert min([await redis_client.ttl(key) for key in tables]) >= WEEK_S - 2


async def test_complete_and_release_leave_other_claims_alone(redis_client: redis.asyncio.Redis) -> None:
    store = IdempotencyStore(redis_client)
    key = claim_key("g", "hmac", "e1")
    assert await store.claim([key], "theirs", LEASE_MS) == [Claim.CLAIMED]

    assert await store.complete([key], "mine") == [False]
    assert await store.release([key], "mine") == [False]
    assert await redis_client.get(key) == b"theirs"


async def test_release_lets_the_next_claim_through(redis_client: redis.asyncio.Redis) -> None:
    store = IdempotencyStore(redis_client)
    keys = [claim_key("g", "hmac", "e1"), claim_key("g", "hmac", "e2")]
    await store.claim(keys, "first", LEASE_MS)

    assert await store.release(keys, "first") == [True, True]

    assert await redis_client.exists(*keys) == 0
    assert await store.claim(keys, "second", LEASE_MS) == [Claim.CLAIMED, Claim.CLAIMED]


async def test_a_claim_expires_after_its_lease(redis_client: redis.asyncio.Redis) -> None:
    store = IdempotencyStore(redis_client)
    key = claim_key("g", "hmac", "crashed")
    assert await store.claim([key], "crashed-member", 100) == [Claim.CLAIMED]
    assert await store.claim([key], "other", LEASE_MS) == [Claim.HELD]

    await asyncio.sleep(0.2)

    assert await store.claim([key], "other", LEASE_MS) == [Claim.CLAIMED]
    # The crashed member's late completion does not overwrite the live claim.
    assert await store.complete([key], "crashed-member") == [False]


async def test_renew_extends_only_our_leases(redis_client: redis.asyncio.Redis) -> None:
    store = IdempotencyStore(redis_client)
    ours, theirs = claim_key("g", "hmac", "a"), claim_key("g", "hmac", "b")
    await store.claim([ours], "mine", 1000)
    await store.claim([theirs], "theirs", 1000)

    assert await store.renew([ours, theirs], "mine", 30_000) == [True, False]

    assert await redis_client.pttl(ours) > 20_000
    assert await redis_client.pttl(theirs) <= 1000


async def test_mixed_batch_reports_each_key(redis_client: redis.asyncio.Redis) -> None:
    store = IdempotencyStore(redis_client)
    done, held, free = (claim_key("g", "hmac", name) for name in ("done", "held", "free"))
    await store.claim([done], "x", LEASE_MS)
    await store.complete([done], "x")
    await store.claim([held], "y", LEASE_MS)

    assert await store.claim([done, held, free], "mine", LEASE_MS) == [Claim.DONE, Claim.HELD, Claim.CLAIMED]


async def _script_calls(client: redis.asyncio.Redis) -> int:
    stats = await client.info("commandstats")
    return sum(int(stats.get(name, {}).get("calls", 0)) for name in ("cmdstat_evalsha", "cmdstat_eval"))


async def test_a_batch_of_many_keys_is_one_round_trip(unique: str) -> None:
    # A server of its own: the counts are the server's, and the shared one counts every other client's scripts.
    async with own_redis(unique) as server:
        client = server.client()
        try:
            store = IdempotencyStore(client)
            keys = [claim_key("g", "hmac", f"evt_{i}") for i in range(500)]
            # Loads both scripts: a script's first call may take two (NOSCRIPT, then the script itself).
            warm_up = [claim_key("g", "hmac", "warm-up")]
            await store.claim(warm_up, "t", LEASE_MS)
            await store.complete(warm_up, "t")

            before = await _script_calls(server.admin)
            claims = await store.claim(keys, "t", LEASE_MS)
            completed = await store.complete(keys, "t")
            after = await _script_calls(server.admin)
        finally:
            await client.aclose()

    assert claims == [Claim.CLAIMED] * 500
    assert completed == [True] * 500
    assert after - before == 2


async def test_redis_down_is_store_unavailable() -> None:
    # No client-side retries: the worker does its own backoff around `StoreUnavailable`.
    client = redis.asyncio.Redis(host="127.0.0.1", port=free_port(), retry=Retry(NoBackoff(), 0))
    store = IdempotencyStore(client)
    try:
        with pytest.raises(StoreUnavailable, match="Redis did not take the call"):
            await store.claim([claim_key("g", "hmac", "e")], "t", LEASE_MS)
        with pytest.raises(StoreUnavailable):
            await store.complete([claim_key("g", "hmac", "e")], "t")
    finally:
        await client.aclose()


async def test_a_claim_retried_with_the_same_token_is_ours(redis_client: redis.asyncio.Redis) -> None:
    # The reply to the first claim was lost (Redis restarted, a connection dropped): trying again succeeds.
    store = IdempotencyStore(redis_client)
    key = claim_key("g", "hmac", "e1")
    assert await store.claim([key], "mine", 1000) == [Claim.CLAIMED]
    assert await store.claim([key], "mine", LEASE_MS) == [Claim.CLAIMED]
    assert await redis_client.pttl(key) > 1000
    assert await store.claim([key], "theirs", LEASE_MS) == [Claim.HELD]


async def test_a_forced_claim_takes_done_keys_but_never_live_claims(redis_client: redis.asyncio.Redis) -> None:
    store = IdempotencyStore(redis_client)
    done, held = claim_key("g", "hmac", "done"), claim_key("g", "hmac", "held")
    await store.claim([done], "x", LEASE_MS)
    await store.complete([done], "x")
    await store.claim([held], "y", LEASE_MS)

    assert await store.is_done([done, held]) == [True, False]
    assert await store.claim([done, held], "replay", LEASE_MS, force=True) == [Claim.CLAIMED, Claim.HELD]
    # The mark stays: the event was handled once, whatever becomes of the replay.
    assert await store.is_done([done]) == [True]
    assert await store.claim([done], "worker", LEASE_MS) == [Claim.DONE]


async def test_a_lapsed_claim_nobody_took_is_still_marked_done(redis_client: redis.asyncio.Redis) -> None:
    # Redis was away longer than the lease while the handler finished: the event is done, not left open.
    store = IdempotencyStore(redis_client)
    key = claim_key("g", "hmac", "lapsed")
    await store.claim([key], "mine", 100)
    await asyncio.sleep(0.2)
    assert await store.complete([key], "mine") == [True]
    assert await store.claim([key], "other", LEASE_MS) == [Claim.DONE]


async def test_done_marks_of_the_layout_before_are_honoured_until_they_expire(
    redis_client: redis.asyncio.Redis,
) -> None:
    # What the previous version left: `done` (handled) or a claim token (a member of it handling the event) at
    # `webhooks:idem:<group>:<provider>:<id>`, with their TTL.
    await redis_client.set("webhooks:idem:g:stripe:evt_old", DONE, ex=1)
    await redis_client.set("webhooks:idem:g:stripe:evt_running", "a1b2c3", px=LEASE_MS)
    store = IdempotencyStore(redis_client)
    old, running, new = (claim_key("g", "stripe", name) for name in ("evt_old", "evt_running", "evt_new"))

    assert await store.is_done([old, running, new]) == [True, False, False]
    assert await store.claim([old, running, new], "upgraded", LEASE_MS) == [Claim.DONE, Claim.HELD, Claim.CLAIMED]

    await asyncio.sleep(1.1)  # the old mark expires, as it would have before the upgrade
    assert await store.claim([old], "upgraded", LEASE_MS) == [Claim.CLAIMED]


async def test_a_mark_is_found_through_its_whole_window_whatever_the_bucket(redis_client: redis.asyncio.Redis) -> None:
    now = [float(int(time.time()))]
    windows = RememberWindows.build(WEEK_S, {"shopify": 86_400})
    store = IdempotencyStore(redis_client, windows=windows, clock=lambda: now[0])
    keys = [claim_key("g", provider, "evt_1") for provider in ("shopify", "hmac")]
    await store.claim(keys, "t", LEASE_MS)
    await store.complete(keys, "t")

    now[0] += 86_400 - 1  # a day later: past at least one bucket boundary of shopify's window
    assert await store.claim(keys, "t2", LEASE_MS) == [Claim.DONE, Claim.DONE]
    # Each table is kept between one window and one and a half (two buckets per window) from now.
    for provider, window_s in (("shopify", 86_400), ("hmac", WEEK_S)):
        ttls = [
            await redis_client.ttl(key) async for key in redis_client.scan_iter(match=f"webhooks:done:{{g:{provider}:*")
        ]
        assert min(ttls) >= window_s - 2
        assert max(ttls) <= window_s * 3 // 2 + 5


def _ids_in_hash(count: int, shard: int, low_bits: int, taken: set[str]) -> list[str]:
    # Event ids of one shard whose digests' hashes (bytes 2-5) end in `low_bits` (mod 4): where linear hashing puts
    # them, and which of them a split moves, follows from those bits alone.
    found: list[str] = []
    i = 0
    while len(found) < count:
        event_id = f"e{low_bits}-{i}"
        digest = hashlib.blake2b(event_id.encode(), digest_size=16).digest()
        if digest[0] % 64 == shard and digest[4] % 4 == low_bits and event_id not in taken:
            found.append(event_id)
        i += 1
    return found


async def test_every_hash_of_a_done_table_expires_even_when_a_split_moves_all_or_none_of_its_digests(
    redis_client: redis.asyncio.Redis,
) -> None:
    # Digests whose hashes all end in 3 (mod 4), one shard: at 400 digests the split of hash 0 moves none of them
    # (hash 2 starts out empty), at 600 the split of hash 1 moves all of them (hash 1 would be left empty). Digests
    # ending in 2 and 1 then land in those two hashes: each must still expire with its table.
    store = IdempotencyStore(redis_client)
    taken: set[str] = set()
    first = _ids_in_hash(3 * scripts.CAPACITY, 5, 3, taken)
    later = _ids_in_hash(10, 5, 2, taken) + _ids_in_hash(10, 5, 1, taken)
    for ids in (first, later):
        keys = [claim_key("g", "hmac", event_id) for event_id in ids]
        assert await store.claim(keys, "t", LEASE_MS) == [Claim.CLAIMED] * len(keys)
        assert await store.complete(keys, "t") == [True] * len(keys)

    hashes = [key async for key in redis_client.scan_iter(match="webhooks:done:*")]
    assert len(hashes) == 4
    assert min([await redis_client.ttl(key) for key in hashes]) >= WEEK_S - 2
    every = [claim_key("g", "hmac", event_id) for event_id in first + later]
    assert await store.claim(every, "t2", LEASE_MS) == [Claim.DONE] * len(every)


async def test_a_claim_cancelled_in_the_tick_its_reply_comes_is_released(redis_client: redis.asyncio.Redis) -> None:
    key = claim_key("g", "hmac", "cancelled-on-reply")
    claiming: list[asyncio.Task[Claim]] = []

    class CancelOnReply(IdempotencyStore):
        # The real store; the claiming task is cancelled just after Redis answered, before it runs again.
        async def claim(self, keys: Sequence[str], token: str, lease_ms: int, *, force: bool = False) -> list[Claim]:
            result = await super().claim(keys, token, lease_ms, force=force)
            asyncio.get_running_loop().call_soon(claiming[0].cancel)
            return result

    claims = ClaimBatcher(CancelOnReply(redis_client), lease_ms=LEASE_MS)
    claiming.append(asyncio.create_task(claims.claim(key)))
    with pytest.raises(asyncio.CancelledError):
        await claiming[0]
    for _ in range(50):
        if not await redis_client.exists(key):
            break
        await asyncio.sleep(0.02)

    assert await redis_client.exists(key) == 0
    assert claims.held == set()
    await claims.close()


async def test_a_mark_written_by_a_member_whose_clock_runs_ahead_is_found(redis_client: redis.asyncio.Redis) -> None:
    # Shopify's day is two buckets of 12 h; the writer's clock is a minute ahead, across a bucket boundary.
    boundary = (int(time.time()) // 43_200 + 1) * 43_200
    windows = RememberWindows.build(WEEK_S, {"shopify": 86_400})
    ahead = IdempotencyStore(redis_client, windows=windows, clock=lambda: boundary + 30)
    behind = IdempotencyStore(redis_client, windows=windows, clock=lambda: boundary - 30)
    key = claim_key("g", "shopify", "evt_1")
    await ahead.claim([key], "t", LEASE_MS)
    await ahead.complete([key], "t")

    assert await behind.claim([key], "t2", LEASE_MS) == [Claim.DONE]
