"""What an operator sees of a commit that does not move: the committed lag and the stalled seconds of the
partition (the position lag stays near zero), and claims held for longer than the handler timeout.
"""

from __future__ import annotations

import asyncio
from typing import Any

from consumers import Context, Event, Registry
from tests.integration.kafka_tools import envelope, produce
from tests.integration.polling import eventually
from tests.integration.workers import GroupFactory, WorkerFactory, outcome


async def test_a_commit_held_up_shows_as_committed_lag_and_stalled_seconds_and_overdue_claims(
    consumer_group: GroupFactory, worker: WorkerFactory, kafka_bootstrap: str
) -> None:
    # One handler at a time, each just under the timeout: the events behind the first wait longer than it.
    consumers = await consumer_group(consumer_concurrency=1, consumer_handler_timeout_s=3, consumer_lease_ms=2000)
    route, group = consumers.topics, consumers.name
    release = asyncio.Event()
    registry = Registry()

    @registry.handler("hmac", "*")
    async def slow(event: Event[Any], context: Context) -> None:
        if event.id == "stuck":
            await release.wait()
        else:
            await asyncio.sleep(1.6)

    def gauge(name: str, **labels: str) -> float:
        values = [
            sample.value
            for metric in running.metrics.registry.collect()
            for sample in metric.samples
            if sample.name == name and labels.items() <= sample.labels.items()
        ]
        return max(values, default=0.0)

    running, stop = await worker(consumers, registry=registry)
    await produce(kafka_bootstrap, route.topic, [("stuck", envelope("stuck"))])
    await eventually(lambda: gauge("webhooks_consumer_committed_lag", group=group) == 1, "the committed lag")
    await eventually(lambda: gauge("webhooks_consumer_commit_stalled_seconds", group=group) > 1, "a stall", 2.5)
    position_lag = gauge("webhooks_consumer_lag", group=group)
    release.set()
    await eventually(lambda: outcome(running, route.provider, group, "ok") == 1, "the held-up event")
    await eventually(lambda: gauge("webhooks_consumer_commit_stalled_seconds", group=group) == 0, "no stall")
    # Four events behind one slot: the last ones wait for it longer than the handler timeout.
    await produce(kafka_bootstrap, route.topic, [(f"q{i}", envelope(f"q{i}")) for i in range(4)])
    await eventually(lambda: gauge("webhooks_claims_overdue", group=group) >= 1, "an overdue claim")
    await eventually(lambda: outcome(running, route.provider, group, "ok") == 5, "the queued events")
    await eventually(lambda: gauge("webhooks_claims_overdue", group=group) == 0, "no overdue claim")
    await stop()

    assert position_lag == 0
    assert gauge("webhooks_consumer_committed_lag", group=group) == 0


async def test_a_worker_holds_no_more_record_bytes_than_its_budget_while_handlers_are_slow(
    consumer_group: GroupFactory, worker: WorkerFactory, kafka_bootstrap: str
) -> None:
    # 40 events of 100 KB behind handlers that wait: without a byte budget all 40 (4 MB) are fetched and held.
    consumers = await consumer_group(consumer_concurrency=2, consumer_max_inflight_bytes=1_048_576)
    route, group = consumers.topics, consumers.name
    release = asyncio.Event()
    registry = Registry()

    @registry.handler("hmac", "*")
    async def wait(event: Event[Any], context: Context) -> None:
        await release.wait()

    pad = "x" * 100_000
    events = [(f"e{i}", envelope(f"e{i}", payload={"id": f"e{i}", "pad": pad})) for i in range(40)]
    running, stop = await worker(consumers, registry=registry)
    await produce(kafka_bootstrap, route.topic, events)
    await asyncio.sleep(3)
    held = running.metrics.registry.get_sample_value("webhooks_consumed_total", {"provider": "hmac", "group": group})
    release.set()
    await eventually(lambda: outcome(running, route.provider, group, "ok") == 40, "every event once released")
    await stop()

    # The budget, plus what one fetch of a partition may bring on top (aiokafka: 1 MiB per partition).
    assert held is not None
    assert held * 100_000 <= 2 * 1_048_576 + 2 * 100_000, held
