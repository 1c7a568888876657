"""Two tenants' events with one provider id are two events, against the real Redis: records as the receiver
writes them, decoded as a worker decodes them, claimed and completed in the idempotency store."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

import redis.asyncio

from consumers.decoding import Decoded, decode
from consumers.idempotency import Claim, IdempotencyStore
from consumers.registry import Registry
from schemas.envelope import encode_envelope
from schemas.records import RecordFormat
from schemas.topics import GroupTopics

LEASE_MS = 60_000
ROUTE = GroupTopics.for_provider("hmac", "agents")


@dataclass(frozen=True)
class _Record:
    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    headers: list[tuple[str, bytes]]


def record(event_id: str, tenant: str | None, offset: int) -> _Record:
    now = datetime.now(UTC)
    value = encode_envelope(
        id=event_id,
        source=f"src-{tenant}",
        provider="hmac",
        type="order.created",
        received_at=now,
        occurred_at=None,
        payload_json=b"{}",
        headers={},
        tenant=tenant,
    )
    headers = RecordFormat(f"src-{tenant}", "hmac", tenant=tenant).headers(id=event_id, type="order.created", time=now)
    return _Record(ROUTE.topic, 0, offset, event_id.encode(), value, headers)


def decoded_of(event_id: str, tenant: str | None) -> Decoded:
    decoded = decode(record(event_id, tenant, 0), ROUTE, "agents", 1, Registry())
    assert isinstance(decoded, Decoded)
    return decoded


async def test_the_same_provider_id_of_two_tenants_is_claimed_and_done_twice(redis_client: redis.asyncio.Redis) -> None:
    store = IdempotencyStore(redis_client)
    decoded = [decoded_of("evt_1", tenant) for tenant in ("acme", "globex")]
    assert [d.event.envelope.tenant for d in decoded] == ["acme", "globex"]
    # What `context.idempotency_key` carries to downstream calls.
    assert [d.event.envelope.scoped_id for d in decoded] == ["acme/evt_1", "globex/evt_1"]
    acme, globex = (d.claim_key for d in decoded)
    assert acme != globex

    assert await store.claim([acme, globex], "t1", LEASE_MS) == [Claim.CLAIMED, Claim.CLAIMED]
    assert await store.complete([acme], "t1") == [True]
    # acme's is done; globex's is still its own claim, not a duplicate of acme's.
    assert await store.claim([acme, globex], "t2", LEASE_MS) == [Claim.DONE, Claim.HELD]
    assert await store.complete([globex], "t1") == [True]
    assert await store.is_done([acme, globex]) == [True, True]

    # The same id without a tenant (an environment or file source) is a third event.
    untenanted = decoded_of("evt_1", None).claim_key
    assert await store.claim([untenanted], "t3", LEASE_MS) == [Claim.CLAIMED]
