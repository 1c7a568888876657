"""Running handlers: side by side, each within its own timeout, concurrency and rate, with its module's lifespan
state."""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any

import pytest
from prometheus_client import CollectorRegistry

from consumers import Context, Event, Registry
from consumers.errors import HandlerTimeout, StartupError
from consumers.metrics import ConsumerMetrics
from consumers.registry import Rate
from consumers.runner import HandlerRunner
from schemas import Envelope

EVENT: Event[dict[str, Any]] = Event(
    Envelope(id="evt_1", source="hmac", provider="hmac", type="x", received_at=datetime.now(UTC), payload={}), {}
)


def runner(registry: Registry[Any], *, concurrency: int = 8) -> HandlerRunner:
    return HandlerRunner(
        registry, ConsumerMetrics(CollectorRegistry()), group="g", timeout_s=5, max_attempts=3, concurrency=concurrency
    )


async def test_handlers_run_side_by_side_each_with_its_own_timeout() -> None:
    registry = Registry()
    both_started = asyncio.Barrier(2)

    @registry.handler("hmac", timeout_s=0.05)
    async def quick(event: Event[Any], context: Context) -> None:
        await both_started.wait()
        await asyncio.sleep(1)

    @registry.handler("hmac", timeout_s=2)
    async def patient(event: Event[Any], context: Context) -> None:
        await both_started.wait()
        assert context.time_left_s > 1.5
        await asyncio.sleep(0.1)

    runs = await runner(registry).run(EVENT, registry.handlers, attempt=1)

    assert [handler.name for handler in runs.succeeded] == ["patient"]
    [(handler, error)] = runs.failed.items()
    assert (handler.name, type(error), str(error)) == ("quick", HandlerTimeout, "quick ran past 0.05s")


async def test_a_handlers_concurrency_and_rate_hold_up_only_its_own_runs() -> None:
    registry = Registry()
    running = {"limited": 0, "free": 0}
    most = {"limited": 0, "free": 0}
    started: dict[str, list[float]] = {"limited": [], "free": []}

    async def track(name: str) -> None:
        started[name].append(time.monotonic())
        running[name] += 1
        most[name] = max(most[name], running[name])
        await asyncio.sleep(0.02)
        running[name] -= 1

    @registry.handler("hmac", concurrency=1, rate=Rate(20, burst=1))
    async def limited(event: Event[Any], context: Context) -> None:
        await track("limited")

    @registry.handler("hmac")
    async def free(event: Event[Any], context: Context) -> None:
        await track("free")

    run = runner(registry)
    await asyncio.gather(*(run.run(EVENT, registry.handlers, attempt=1) for _ in range(5)))

    assert most == {"limited": 1, "free": 5}
    assert max(started["free"]) - min(started["free"]) < 0.04
    gaps = [b - a for a, b in zip(started["limited"], started["limited"][1:], strict=False)]
    assert min(gaps) >= 0.04, gaps


async def test_each_registry_gets_its_own_lifespan_state_entered_once_and_exited_in_reverse() -> None:
    log: list[str] = []

    def lifespan(name: str) -> Any:
        @asynccontextmanager
        async def enter() -> AsyncIterator[str]:
            log.append(f"enter {name}")
            yield name
            log.append(f"exit {name}")

        return enter

    first, second = Registry(lifespan=lifespan("llm")), Registry(lifespan=lifespan("http"))
    states: list[str] = []

    @first.handler("hmac")
    async def ask(event: Event[Any], context: Context[str]) -> None:
        states.append(context.state)

    @second.handler("hmac")
    async def post(event: Event[Any], context: Context[str]) -> None:
        states.append(context.state)

    merged = Registry()
    merged.include(first)
    merged.include(second)
    run = runner(merged)
    async with run.lifespan():
        await run.run(EVENT, merged.handlers, attempt=1)
        await run.run(EVENT, merged.handlers, attempt=1)

    assert sorted(states) == ["http", "http", "llm", "llm"]
    assert log == ["enter llm", "enter http", "exit http", "exit llm"]


async def test_a_lifespan_that_fails_is_one_line_naming_it_and_the_ones_entered_are_exited() -> None:
    exited: list[str] = []

    @asynccontextmanager
    async def fine() -> AsyncIterator[None]:
        try:
            yield
        finally:
            exited.append("fine")

    @asynccontextmanager
    async def broken() -> AsyncIterator[None]:
        raise ConnectionRefusedError("LLM gateway down")
        yield

    first, second = Registry(lifespan=fine), Registry(lifespan=broken)
    merged = Registry()
    merged.include(first)
    merged.include(second)

    with pytest.raises(StartupError, match=rf"^the lifespan {re.escape(__name__)}\..*broken failed to start: "):
        async with runner(merged).lifespan():
            pass
    assert exited == ["fine"]


async def test_the_in_flight_gauge_reads_zero_for_each_provider_before_its_first_event() -> None:
    # A gauge that appears only with a provider's first event leaves its dashboard panel empty until then.
    metrics = ConsumerMetrics(CollectorRegistry())
    ran = HandlerRunner(Registry(), metrics, group="g", timeout_s=5, max_attempts=3, concurrency=1)

    ran.track(["github", "stripe"])

    [family] = metrics.in_flight.collect()
    assert {sample.labels["provider"]: sample.value for sample in family.samples} == {"github": 0, "stripe": 0}
