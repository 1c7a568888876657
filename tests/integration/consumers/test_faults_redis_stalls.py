"""A claim renewal on a connection that goes silent (packets dropped, a dead NAT entry, Redis paused behind a
proxy) is abandoned after a third of the lease and tried again on a new connection, so the claim outlives the
stall and no other member of the group takes the event over; a reply that comes after its call was abandoned
is never read as the answer to the next call. Against the real Redis, through a real TCP proxy.
"""

from __future__ import annotations

import asyncio
import contextlib

import pytest
import redis.asyncio

from consumers.claims import ClaimBatcher
from consumers.errors import StoreUnavailable
from consumers.idempotency import Claim, IdempotencyStore, claim_key
from tests.integration.redis_faults import another_members_claims, proxied

# The proxied client waits 30 s for a reply (its socket timeout): twenty leases, so only the renewal's own
# bound can save the claim.
LEASE_MS = 1500


async def test_a_renewal_stalled_on_a_silent_connection_is_abandoned_in_time_and_the_claim_kept(
    redis_client: redis.asyncio.Redis,
) -> None:
    key = claim_key("g", "hmac", "stalled-renewal")
    async with proxied(redis_client) as (proxy, client):
        claims = ClaimBatcher(IdempotencyStore(client), lease_ms=LEASE_MS)
        assert await claims.claim_all([key]) == [Claim.CLAIMED]
        renewing = asyncio.create_task(claims.renew_forever())
        try:
            # The first renewal (a third of a lease in) goes out on the silent connection; the network is back
            # before the second, within the lease.
            proxy.stall()
            await asyncio.sleep(0.8)
            proxy.resume()
            # Two leases on: the claim is still this worker's all along.
            answers = await another_members_claims(redis_client, key, for_s=3.0, lease_ms=LEASE_MS)
        finally:
            renewing.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await renewing

    assert answers == [Claim.HELD] * len(answers)
    assert claims.held == {key}
    assert await redis_client.get(key) == claims.token.encode()


async def test_a_reply_that_comes_after_its_renewal_was_abandoned_is_never_read_by_the_next_call(
    redis_client: redis.asyncio.Redis,
) -> None:
    key = claim_key("g", "hmac", "late-reply")
    async with proxied(redis_client) as (proxy, client):
        store = IdempotencyStore(client)
        assert await store.claim([key], "mine", LEASE_MS) == [Claim.CLAIMED]
        # Redis renews, but its reply comes 0.8 s late: past the third of a lease (0.5 s) the call waits.
        proxy.reply_delay_s = 0.8
        with pytest.raises(StoreUnavailable, match="within"):
            await store.renew([key], "mine", LEASE_MS)
        proxy.reply_delay_s = 0.0
        await asyncio.sleep(0.5)  # the late reply reaches the proxy meanwhile, the lease still runs

        # Each call gets its own answer: the abandoned call's connection was closed, not handed out again.
        assert await store.is_done([key]) == [False]
        assert await client.get(key) == b"mine"
        assert await store.renew([key], "mine", LEASE_MS) == [True]
        assert proxy.connections == 2
