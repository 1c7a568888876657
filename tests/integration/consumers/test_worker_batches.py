"""The two ways a fetched record is delivered, on the real broker and Redis: in a batch (its key alone in the fetch
and not busy: one claim call for the batch, no task per record) or through its key's lane (a key that repeats in
the fetch, or whose earlier record is still being handled). Whichever way, one key's records run one at a time
and in order, and every event is handled once.

A SIGKILL in the middle of a batch is `test_worker_process.py`'s: its events, each with a key of its own, are
delivered in batches.
"""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import Sequence
from typing import Any

import pytest
import redis.asyncio

from consumers import Context, Event, Registry
from consumers.decoding import Decoded, Invalid
from consumers.delivery import Delivery
from consumers.idempotency import IdempotencyStore
from consumers.metrics import Outcome
from tests.integration.kafka_tools import committed_lag, produce_keyed
from tests.integration.polling import eventually
from tests.integration.workers import GroupFactory, outcome, running_worker


async def test_a_batch_and_the_lanes_keep_each_keys_order_and_handle_every_event_once(
    consumer_group: GroupFactory,
    kafka_bootstrap: str,
    redis_client: redis.asyncio.Redis,
    unique: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    consumers = await consumer_group(consumer_concurrency=8)
    settings, route, group = consumers.settings, consumers.topics, consumers.name
    # The way each event id went: "batch" or "lane".
    ways: dict[str, str] = {}
    batch, alone = Delivery.deliver_all, Delivery.deliver

    async def deliver_all(self: Delivery, items: Sequence[Decoded], **kwargs: Any) -> None:
        ways.update((item.event.id, "batch") for item in items)
        await batch(self, items, **kwargs)

    async def deliver(self: Delivery, item: Decoded | Invalid, **kwargs: Any) -> Outcome | None:
        if isinstance(item, Decoded):
            ways[item.event.id] = "lane"
        return await alone(self, item, **kwargs)

    monkeypatch.setattr(Delivery, "deliver_all", deliver_all)
    monkeypatch.setattr(Delivery, "deliver", deliver)

    seen: dict[str, list[int]] = defaultdict(list)
    running: set[str] = set()
    slow_started = asyncio.Event()
    registry = Registry()

    @registry.handler("hmac", "*")
    async def handle(event: Event[Any], context: Context) -> None:
        key, index = event.id.rsplit(":", 1)
        assert key not in running, f"two events of {key} at once"
        running.add(key)
        if key.startswith("slow") and index == "0":
            slow_started.set()
            await asyncio.sleep(0.5)  # still running when the key's next record is fetched
        seen[key].append(int(index))
        running.discard(key)

    # Keys alone in the fetch (a batch), keys three times in it (their lanes), and slow keys fetched again while
    # their first record still runs (their lanes, behind the batch that holds them).
    solo = [(f"solo-{k}", f"solo-{k}:0") for k in range(30)]
    repeated = [(f"rep-{k}", f"rep-{k}:{i}") for i in range(3) for k in range(5)]
    slow = [(f"slow-{k}", f"slow-{k}:0") for k in range(3)]
    later = [(f"slow-{k}", f"slow-{k}:1") for k in range(3)] + [(f"solo-{k}", f"solo-{k}:1") for k in range(5)]
    total = len(solo) + len(repeated) + len(slow) + len(later)

    async with running_worker(settings, route, IdempotencyStore(redis_client), registry=registry) as (metrics, stop):
        await produce_keyed(kafka_bootstrap, route.topic, solo + repeated + slow)
        await asyncio.wait_for(slow_started.wait(), 30)
        await produce_keyed(kafka_bootstrap, route.topic, later)
        await eventually(lambda: outcome(metrics, route.provider, group, "ok") == total, "every event")
        await stop()

    expected = defaultdict(list)
    for key, event_id in solo + repeated + slow + later:
        expected[key].append(int(event_id.rsplit(":", 1)[1]))
    assert dict(seen) == {key: sorted(indexes) for key, indexes in expected.items()}
    assert outcome(metrics, route.provider, group, "duplicate") == 0
    assert await committed_lag(kafka_bootstrap, group, [route.topic]) == 0
    # Both ways were taken: the slow keys' first records in a batch, their second ones in their lanes behind it.
    assert {ways[f"slow-{k}:0"] for k in range(3)} == {"batch"}
    assert {ways[f"slow-{k}:1"] for k in range(3)} == {"lane"}
    assert sum(way == "batch" for way in ways.values()) >= len(slow) + 1
    assert len(ways) == total
