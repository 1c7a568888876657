"""Replay from the DLQ on the real broker and Redis: a fixed handler runs each dead letter once; a second replay
is a duplicate unless forced; `python -m consumers replay` selects, lists, runs and exits with a useful code.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import redis.asyncio

from consumers import Context, Event, PermanentError, Registry
from consumers.idempotency import IdempotencyStore, claim_key
from consumers.replay import Replayer, Selection, Summary
from consumers.settings import Settings
from kafkaconfig.topics import ensure_topics
from schemas.topics import GroupTopics, dlq_topic
from tests.integration.kafka_tools import dead_letter, envelope, produce
from tests.integration.polling import eventually
from tests.integration.worker_process import Group, replay_cli
from tests.integration.workers import GroupFactory, WorkerFactory, outcome


async def test_a_fixed_handler_replays_each_dead_letter_once(
    consumer_group: GroupFactory, worker: WorkerFactory, kafka_bootstrap: str, redis_client: redis.asyncio.Redis
) -> None:
    consumers = await consumer_group(consumer_max_attempts=2)
    settings, route, group = consumers.settings, consumers.topics, consumers.name
    runs: list[tuple[str, int]] = []
    fixed = False

    registry = Registry()

    @registry.handler("hmac", "*")
    async def handle(event: Event[Any], context: Context) -> None:
        runs.append((event.id, context.attempt))
        if event.id == "evt_broken" and not fixed:
            raise RuntimeError("prompt template missing")
        if event.id == "evt_refused" and not fixed:
            raise PermanentError("unknown customer")

    store = IdempotencyStore(redis_client)
    ids = ["evt_ok", "evt_broken", "evt_refused"]
    metrics, stop = await worker(consumers, registry=registry)
    await produce(kafka_bootstrap, route.topic, [(i, envelope(i)) for i in ids])
    await eventually(lambda: outcome(metrics, route.provider, group, "dead_lettered") == 2, "two dead letters")
    await stop()
    assert sorted(runs) == [("evt_broken", 1), ("evt_broken", 2), ("evt_ok", 1), ("evt_refused", 1)]

    fixed = True
    runs.clear()
    lines: list[str] = []
    replayer = Replayer.from_settings(settings, registry, store, rate_per_s=50, out=lines.append)

    async def replay(selection: Selection | None = None, *, dry_run: bool = False) -> Summary:
        selection = selection or Selection()
        return await (replayer.dry_run if dry_run else replayer.run)([route], selection)

    listed = await replay(dry_run=True)
    assert (listed.selected, listed.would_replay, runs) == (2, 2, [])
    assert any("evt_broken" in line and "prompt template missing (failed: handle)" in line for line in lines)
    # Selected by the handler that failed: none that another handler failed.
    assert (await replay(Selection(handlers=frozenset({"other"})), dry_run=True)).selected == 0
    assert (await replay(Selection(handlers=frozenset({"handle", "other"})), dry_run=True)).selected == 2

    first = await replay()
    assert (first.handled, first.duplicates, first.failed, first.complete) == (2, 0, 0, True)
    # Each ran once, as the attempt after its last one.
    assert sorted(runs) == [("evt_broken", 3), ("evt_refused", 2)]
    assert await IdempotencyStore(redis_client).is_done([claim_key(group, "hmac", "evt_broken")]) == [True]

    again = await replay()
    assert (again.handled, again.duplicates) == (0, 2)
    assert len(runs) == 2

    replayer = Replayer.from_settings(settings, registry, store, rate_per_s=50, force=True, out=lines.append)
    forced = await replay(Selection(ids=frozenset({"evt_refused"})))
    assert (forced.selected, forced.handled) == (1, 1)
    assert sorted(runs) == [("evt_broken", 3), ("evt_refused", 2), ("evt_refused", 2)]


async def test_the_replay_command(
    kafka_bootstrap: str, redis_url: str, redis_client: redis.asyncio.Redis, unique: str, tmp_path: Path
) -> None:
    group = Group(kafka_bootstrap, redis_url, unique)
    route = GroupTopics.for_provider(group.provider, group.group)
    assert route.dlq_topic == dlq_topic(group.provider, group.group)
    await ensure_topics(Settings(kafka_bootstrap_servers=kafka_bootstrap, kafka_topic_partitions=3), [route.dlq_topic])
    before = datetime.now(UTC) - timedelta(seconds=1)
    ids = ["evt_000", "evt_001", "evt_002"]
    await dead_letter(kafka_bootstrap, route, ids)
    env = group.env()

    listed = replay_cli(env, "--dry-run")
    assert listed.returncode == 0, listed.stderr
    assert listed.stdout.count("replay    evt_") == 3
    assert "RuntimeError: model overloaded" in listed.stdout
    assert "dry run: 3 selected of 3 dead letters: 3 to replay" in listed.stdout
    assert await group.counts(redis_client, "effects", ids) == dict.fromkeys(ids, 0)

    one = replay_cli(env, "--id", "evt_001", "--rate", "50")
    assert one.returncode == 0, one.stderr
    assert "replay: 1 selected of 3 dead letters: 1 handled, 0 duplicates, 0 failed" in one.stdout
    assert await group.counts(redis_client, "effects", ids) == {"evt_000": 0, "evt_001": 1, "evt_002": 0}

    window = replay_cli(env, "--since", before.isoformat(), "--rate", "50")
    assert window.returncode == 0, window.stderr
    assert "3 selected of 3 dead letters: 2 handled, 1 duplicates" in window.stdout
    assert await group.counts(redis_client, "effects", ids) == dict.fromkeys(ids, 1)

    nothing = replay_cli(env, "--until", before.isoformat())
    assert (nothing.returncode, "0 selected of 3" in nothing.stdout) == (0, True)

    forced = replay_cli(env, "--id", "evt_002", "--force")
    assert forced.returncode == 0, forced.stderr
    assert await group.count(redis_client, "effects", "evt_002") == 2

    missing = replay_cli(env, "--id", "evt_404")
    assert missing.returncode == 1
    assert "not found: evt_404" in missing.stdout

    usage = replay_cli(env, "--since", "yesterday")
    assert usage.returncode == 2
    assert "no ISO 8601 time" in usage.stderr
