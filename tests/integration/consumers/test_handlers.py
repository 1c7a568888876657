"""The handler API on the real broker and Redis: each handler once per event however often the others fail, the
lifespans of several handler modules around the worker, and per-handler attempts, timeouts and rates.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import redis.asyncio

from consumers import Context, Event, Registry
from consumers.dryrun import dry_run
from consumers.idempotency import Claim, IdempotencyStore, claim_key, handled_key
from consumers.kafka import read_to_end
from consumers.registry import Rate
from kafkaconfig.clients import aiokafka_options
from schemas.topics import HEADER_ATTEMPT, HEADER_ERROR_CLASS, HEADER_FAILED_HANDLERS
from tests.integration.kafka_tools import committed_lag, envelope, headers_of, produce, read_topic
from tests.integration.polling import eventually
from tests.integration.worker_process import Group, prepare, terminate, wait_while_running, worker_process
from tests.integration.workers import GroupFactory, Running, WorkerFactory, total

EVENTS = [f"evt_{i}" for i in range(6)]


def processed(running: Running, handler: str, outcome: str) -> float:
    return total(running, "webhooks_processed_total", provider="hmac", outcome=outcome, handler=handler)


async def test_two_handlers_on_one_provider_one_failing_twice_the_other_runs_exactly_once_per_event(
    consumer_group: GroupFactory, worker: WorkerFactory, kafka_bootstrap: str, redis_client: redis.asyncio.Redis
) -> None:
    consumers = await consumer_group(consumer_max_attempts=5)
    route, group = consumers.topics, consumers.name
    runs: Counter[tuple[str, str]] = Counter()
    registry = Registry()

    @registry.handler("hmac")
    async def record_order(event: Event[Any], context: Context) -> None:
        runs["record_order", event.id] += 1

    @registry.handler("hmac")
    async def ask_agent(event: Event[Any], context: Context) -> None:
        runs["ask_agent", event.id] += 1
        if context.attempt <= 2:
            raise ConnectionError("agent API: 503")

    store = IdempotencyStore(redis_client)
    metrics, stop = await worker(consumers, registry=registry)
    await produce(kafka_bootstrap, route.topic, [(event_id, envelope(event_id)) for event_id in EVENTS])
    await eventually(lambda: processed(metrics, "ask_agent", "ok") == len(EVENTS), "every event handled")
    await stop()

    assert {event_id: runs["record_order", event_id] for event_id in EVENTS} == dict.fromkeys(EVENTS, 1)
    assert {event_id: runs["ask_agent", event_id] for event_id in EVENTS} == dict.fromkeys(EVENTS, 3)
    assert processed(metrics, "record_order", "ok") == len(EVENTS)
    assert processed(metrics, "ask_agent", "retried") == 2 * len(EVENTS)
    assert processed(metrics, "record_order", "retried") == 0
    # Done events keep no per-handler marks, and are duplicates from now on.
    keys = [claim_key(group, "hmac", event_id) for event_id in EVENTS]
    assert await redis_client.exists(*[handled_key(key) for key in keys]) == 0
    assert all(await store.is_done(keys))
    assert await committed_lag(kafka_bootstrap, group, [route.topic, route.retry_topic]) == 0


async def test_a_handler_out_of_attempts_dead_letters_the_event_and_a_replay_would_run_only_it(
    consumer_group: GroupFactory, worker: WorkerFactory, kafka_bootstrap: str, redis_client: redis.asyncio.Redis
) -> None:
    consumers = await consumer_group(consumer_max_attempts=5)
    route, group = consumers.topics, consumers.name
    runs: Counter[str] = Counter()
    registry = Registry()

    @registry.handler("hmac")
    async def steady(event: Event[Any], context: Context) -> None:
        runs["steady"] += 1

    @registry.handler("hmac", max_attempts=2)
    async def doomed(event: Event[Any], context: Context) -> None:
        runs["doomed"] += 1
        assert context.max_attempts == 2
        raise LookupError("no such customer")

    store = IdempotencyStore(redis_client)
    metrics, stop = await worker(consumers, registry=registry)
    await produce(kafka_bootstrap, route.topic, [("evt_1", envelope("evt_1"))])
    await eventually(lambda: processed(metrics, "doomed", "dead_lettered") == 1, "the dead letter")
    await stop()

    assert runs == {"steady": 1, "doomed": 2}
    [dead] = await read_topic(kafka_bootstrap, route.dlq_topic, expect=1)
    assert (headers_of(dead)[HEADER_ATTEMPT], headers_of(dead)[HEADER_ERROR_CLASS]) == ("2", "LookupError")
    assert headers_of(dead)[HEADER_FAILED_HANDLERS] == "doomed"
    # The event is unfinished: its mark says which handler a replay need not run again.
    key = claim_key(group, "hmac", "evt_1")
    assert await store.handled([key]) == [{"steady"}]
    assert await store.is_done([key]) == [False]


@dataclass
class Pool:
    name: str
    opened: float = 0.0
    closed: float = 0.0
    used: list[float] = field(default_factory=list)


async def test_each_modules_lifespan_is_entered_before_the_first_event_and_exited_on_stop(
    consumer_group: GroupFactory, worker: WorkerFactory, kafka_bootstrap: str
) -> None:
    consumers = await consumer_group()
    route = consumers.topics
    pools: list[Pool] = []

    def lifespan(name: str) -> Callable[[], Any]:
        @asynccontextmanager
        async def pool() -> AsyncIterator[Pool]:
            opened = Pool(name, opened=time.monotonic())
            pools.append(opened)
            yield opened
            opened.closed = time.monotonic()

        return pool

    llm, http = Registry(lifespan=lifespan("llm")), Registry(lifespan=lifespan("http"))

    @llm.handler("hmac")
    async def ask(event: Event[Any], context: Context[Pool]) -> None:
        assert context.state.name == "llm"
        context.state.used.append(time.monotonic())

    @http.handler("hmac")
    async def post(event: Event[Any], context: Context[Pool]) -> None:
        assert context.state.name == "http"
        context.state.used.append(time.monotonic())

    merged = Registry()
    merged.include(llm)
    merged.include(http)
    metrics, stop = await worker(consumers, registry=merged)
    await produce(kafka_bootstrap, route.topic, [(event_id, envelope(event_id)) for event_id in EVENTS])
    await eventually(lambda: processed(metrics, "post", "ok") == len(EVENTS), "every event handled")
    assert [(pool.name, pool.closed) for pool in pools] == [("llm", 0.0), ("http", 0.0)]
    await stop()

    for pool in pools:
        assert len(pool.used) == len(EVENTS)
        assert pool.opened < min(pool.used)
        assert max(pool.used) < pool.closed


async def test_a_rate_limited_handler_waits_without_holding_up_the_other_handler_or_its_own_timeout(
    consumer_group: GroupFactory, worker: WorkerFactory, kafka_bootstrap: str
) -> None:
    consumers = await consumer_group()
    route = consumers.topics
    started: dict[str, list[float]] = {"slow_api": [], "quick": []}
    registry = Registry()

    # 4 a second with no burst: the six events take about 1.25 s, each run far inside its 0.5 s timeout.
    @registry.handler("hmac", rate=Rate(4, burst=1), timeout_s=0.5)
    async def slow_api(event: Event[Any], context: Context) -> None:
        started["slow_api"].append(time.monotonic())
        assert context.time_left_s > 0.4

    @registry.handler("hmac")
    async def quick(event: Event[Any], context: Context) -> None:
        started["quick"].append(time.monotonic())

    metrics, stop = await worker(consumers, registry=registry)
    await produce(kafka_bootstrap, route.topic, [(event_id, envelope(event_id)) for event_id in EVENTS])
    await eventually(lambda: processed(metrics, "slow_api", "ok") == len(EVENTS), "every event handled")
    await stop()

    limited, free = sorted(started["slow_api"]), sorted(started["quick"])
    assert limited[-1] - limited[0] >= (len(EVENTS) - 1) / 4 * 0.9
    assert free[-1] - free[0] < 0.5, "the other handler waited for the rate"
    assert processed(metrics, "slow_api", "retried") == 0


async def test_a_dry_run_lists_what_each_waiting_record_would_run_and_changes_nothing(
    consumer_group: GroupFactory, kafka_bootstrap: str, redis_client: redis.asyncio.Redis
) -> None:
    consumers = await consumer_group()
    settings, route, group = consumers.settings, consumers.topics, consumers.name
    store = IdempotencyStore(redis_client)
    ran: list[str] = []
    registry = Registry()

    @registry.handler("hmac")
    async def first(event: Event[Any], context: Context) -> None:
        ran.append("first")

    @registry.handler("hmac", "order.*")
    async def second(event: Event[Any], context: Context) -> None:
        ran.append("second")

    done, half = (claim_key(group, "hmac", event_id) for event_id in ("evt_done", "evt_half"))
    assert await store.claim([done], "t", 60_000) == [Claim.CLAIMED]
    await store.complete([done], "t")
    await store.mark([(half, "first")])
    records = [(event_id, envelope(event_id)) for event_id in ("evt_done", "evt_half", "evt_new")]
    await produce(kafka_bootstrap, route.topic, [*records, ("evt_bad", b"not an envelope")])
    before = sorted([key async for key in redis_client.scan_iter("webhooks:*")])

    lines: list[str] = []
    summary = await dry_run(
        [route],
        group=group,
        registry=registry,
        store=store,
        read=partial(read_to_end, aiokafka_options(settings), group=group),
        out=lines.append,
    )

    assert (
        summary.line()
        == "4 records waiting: 2 would run handlers, 1 duplicates, 0 without a matching handler, 1 invalid"
    )
    found = {line.split(" (")[0].split(":")[0]: line for line in lines}
    assert found["would run  evt_new"].endswith(": first, second")
    assert found["would run  evt_half"].endswith(": second")
    assert found["duplicate  evt_done"].endswith(": handled already")
    assert any(line.startswith("invalid    ") and "no valid envelope" in line for line in lines)
    # Nothing ran, nothing was claimed or marked, nothing was committed or sent anywhere.
    assert ran == []
    assert sorted([key async for key in redis_client.scan_iter("webhooks:*")]) == before
    assert await committed_lag(kafka_bootstrap, group, [route.topic]) == 4
    for topic in (route.retry_topic, route.dlq_topic):
        assert [record async for record in read_to_end(aiokafka_options(settings), topic)] == []


async def test_a_worker_process_runs_the_steady_handler_once_per_event_while_the_other_fails_twice(
    kafka_bootstrap: str, redis_url: str, redis_client: redis.asyncio.Redis, unique: str, tmp_path: Path
) -> None:
    group = Group(kafka_bootstrap, redis_url, unique)
    ids = await prepare(group, len(EVENTS))
    env = group.env(CONSUMER_HANDLERS="tests.integration.two_handlers", CONSUMER_RETRY_BACKOFF_MS="50")

    with worker_process(env, tmp_path / "worker.log") as process:

        async def all_done() -> bool:
            return await group.done(redis_client, ids) == set(ids)

        await wait_while_running(process, tmp_path / "worker.log", all_done)
        terminate(process)

    assert await group.counts(redis_client, "steady", ids) == dict.fromkeys(ids, 1)
    assert await group.counts(redis_client, "flaky", ids) == dict.fromkeys(ids, 3)
