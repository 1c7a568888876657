"""End to end on the real broker and Redis: provider -> receiver -> Kafka -> consumer groups -> handler."""

from __future__ import annotations

import asyncio
import logging
from functools import partial
from pathlib import Path
from typing import Any

import pytest
import redis.asyncio

from consumers.handlers import Context, Event
from consumers.idempotency import IdempotencyStore, claim_key
from receiver.sources import Source
from receiver.verify import GitHubScheme, HmacScheme
from tests.integration.kafka_tools import ReceiverFactory
from tests.integration.polling import eventually
from tests.integration.workers import GroupFactory, Running, WorkerFactory
from tests.signing import github_headers, hmac_headers


def _handled_all(group: Running, count: int) -> bool:
    return group.outcome("ok") + group.outcome("duplicate") == count


async def test_one_delivery_sent_three_times_runs_each_groups_handler_once(
    consumer_group: GroupFactory,
    worker: WorkerFactory,
    receiver: ReceiverFactory,
    redis_client: redis.asyncio.Redis,
    unique: str,
    samples: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="consumers.events")
    body = (samples / "github" / "pull_request" / "opened.payload.json").read_bytes()
    delivery = f"delivery-{unique}"
    triage_group = await consumer_group("github", name="triage")
    audit_group = await consumer_group("github", name="audit")
    group_a, group_b = triage_group.name, audit_group.name
    http = await receiver(Source("github", GitHubScheme(), (b"gh-secret",), triage_group.topics.topic))
    triage, stop_triage = await worker(triage_group)
    audit, stop_audit = await worker(audit_group)

    # GitHub redelivers with the same X-GitHub-Delivery: each must be accepted, and handled once.
    for _ in range(3):
        response = await http.post(
            "/webhooks/github", content=body, headers=github_headers(body, "gh-secret", "pull_request", delivery)
        )
        assert (response.status_code, response.json()) == (202, {"status": "accepted", "id": delivery})

    for group in (triage, audit):
        await eventually(partial(_handled_all, group, 3), "three records handled")
    # Give a wrongly repeated run the chance to show up before counting.
    await asyncio.sleep(0.5)
    await stop_triage()
    await stop_audit()

    for group in (triage, audit):
        assert [(event_id, attempt) for event_id, attempt, _ in group.calls] == [(delivery, 1)]
        assert group.outcome("ok") == 1
        assert group.outcome("duplicate") == 2
        assert group.sample("webhooks_duplicates_total") == 2
        assert group.sample("webhooks_consumed_total") == 3
    # Handled: the claim key is gone and the event is done for the group.
    key = claim_key(group_a, "github", delivery)
    assert await redis_client.exists(key) == 0
    assert await IdempotencyStore(redis_client).is_done([key]) == [True]
    # One log line per processed record, per group: which event, what became of it.
    lines = [r for r in caplog.records if r.name == "consumers.events" and r.event_id == delivery]  # type: ignore[attr-defined]
    for group_name in (group_a, group_b):
        outcomes = sorted(r.outcome for r in lines if r.group == group_name)  # type: ignore[attr-defined]
        assert outcomes == ["duplicate", "duplicate", "ok"]
    assert {r.type for r in lines} == {"pull_request.opened"}  # type: ignore[attr-defined]


async def test_the_senders_traceparent_reaches_the_handler_and_survives_a_retry(
    consumer_group: GroupFactory, worker: WorkerFactory, receiver: ReceiverFactory
) -> None:
    traceparent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
    group = await consumer_group(name="trace")
    http = await receiver(Source("hmac", HmacScheme(), (b"k",), group.topics.topic))
    seen: list[tuple[int, str | None]] = []

    async def fail_once(event: Event[Any], context: Context) -> None:
        seen.append((context.attempt, event.traceparent))
        if context.attempt == 1:
            raise RuntimeError("flaky agent")

    running, _ = await worker(group, fail_once)
    body = b'{"id":"evt-traced","type":"order.created"}'
    headers = {**hmac_headers(body, "k"), "traceparent": traceparent}
    assert (await http.post("/webhooks/hmac", content=body, headers=headers)).status_code == 202
    await eventually(partial(_handled_all, running, 1), "the retry handled")

    assert seen == [(1, traceparent), (2, traceparent)]
