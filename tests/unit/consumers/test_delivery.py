"""Every outcome of one record through `Delivery`, on the in-memory claim store and record sink: what the store
and the sink saw, in order, and what the handlers ran.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import pytest
from prometheus_client import CollectorRegistry

from consumers import Context, Event, Registry
from consumers.claims import ClaimBatcher
from consumers.decoding import Decoded, Invalid, decode
from consumers.delivery import Delivery
from consumers.idempotency import Claim, claim_key
from consumers.metrics import ConsumerMetrics, Outcome
from consumers.runner import HandlerRunner
from schemas import Envelope
from schemas.topics import HEADER_FAILED_HANDLERS, GroupTopics
from tests.fakes import FetchedRecord, MemoryClaimStore, MemorySink

ROUTE = GroupTopics.for_provider("hmac", "g")
KEY = claim_key("g", "hmac", "evt_1")
LEASE_MS = 1000


@dataclass
class Setup:
    """A processor over fakes, and what its handlers did."""

    store: MemoryClaimStore = field(default_factory=MemoryClaimStore)
    sink: MemorySink = field(init=False)
    ran: list[tuple[str, int]] = field(default_factory=list)
    registry: Registry = field(default_factory=Registry)

    def __post_init__(self) -> None:
        self.sink = MemorySink(self.store.journal)

    def handler(self, name: str, behave: Callable[[Setup, Context], Awaitable[None]] | None = None) -> None:
        async def run(event: Event[Any], context: Context) -> None:
            self.ran.append((name, context.attempt))
            if behave is not None:
                await behave(self, context)

        self.registry.add("hmac", "*", run, name=name)

    def delivery(self) -> Delivery:
        metrics = ConsumerMetrics(CollectorRegistry())
        runner = HandlerRunner(self.registry, metrics, group="g", timeout_s=5, max_attempts=3, concurrency=4)
        claims = ClaimBatcher(self.store, lease_ms=LEASE_MS)
        return Delivery(claims, runner, self.sink, metrics, group="g", retry_backoff_ms=0)

    def ops(self) -> list[tuple[str, str, object]]:
        """The journal, with retry and dead-letter records as their topic."""
        return [(op, where, result if op != "send" else "") for op, where, result in self.store.journal]


def item(attempt: int = 1, value: bytes | None = None) -> Decoded | Invalid:
    if value is None:
        envelope = Envelope(
            id="evt_1", source="hmac", provider="hmac", type="order.created", received_at=datetime.now(UTC), payload={}
        )
        value = envelope.to_bytes()
    record = FetchedRecord(ROUTE.topic if attempt == 1 else ROUTE.retry_topic, 0, 7, b"evt_1", value)
    return decode(record, ROUTE, "g", attempt, Registry())


async def fail(setup: Setup, context: Context) -> None:
    raise ConnectionError("agent API: 503")


async def lapse(setup: Setup, context: Context) -> None:
    setup.store.clock.now += 2 * LEASE_MS / 1000  # away longer than the lease: Redis let the claim go


async def lapse_and_taken(setup: Setup, context: Context) -> None:
    await lapse(setup, context)
    assert await setup.store.claim([KEY], "another member", LEASE_MS) == [Claim.CLAIMED]


def done_already(setup: Setup) -> None:
    setup.store.done.add(KEY)


def nothing(setup: Setup) -> None:
    return None


ROWS = [
    # (case, before, handler behaviour, attempt, outcome, store and sink journal, done afterwards)
    ("handled", nothing, None, 1, Outcome.OK, [("claim", KEY, Claim.CLAIMED), ("complete", KEY, True)], True),
    ("duplicate", done_already, None, 1, Outcome.DUPLICATE, [("claim", KEY, Claim.DONE)], True),
    (
        "release before retry",
        nothing,
        fail,
        1,
        Outcome.RETRIED,
        [("claim", KEY, Claim.CLAIMED), ("release", KEY, True), ("send", ROUTE.retry_topic, "")],
        False,
    ),
    (
        "release before the dead letter",
        nothing,
        fail,
        3,
        Outcome.DEAD_LETTERED,
        [("claim", KEY, Claim.CLAIMED), ("release", KEY, True), ("send", ROUTE.dlq_topic, "")],
        False,
    ),
    (
        "complete after the lease lapsed, nobody claimed it since",
        nothing,
        lapse,
        1,
        Outcome.OK,
        [("claim", KEY, Claim.CLAIMED), ("complete", KEY, True)],
        True,
    ),
    (
        "complete after the lease lapsed and another member claimed it",
        nothing,
        lapse_and_taken,
        1,
        Outcome.OK,
        [("claim", KEY, Claim.CLAIMED), ("claim", KEY, Claim.CLAIMED), ("complete", KEY, False)],
        False,
    ),
]


@pytest.mark.parametrize(
    ("before", "behave", "attempt", "outcome", "journal", "done"),
    [row[1:] for row in ROWS],
    ids=[row[0] for row in ROWS],
)
async def test_one_record(
    before: Callable[[Setup], None],
    behave: Callable[[Setup, Context], Awaitable[None]] | None,
    attempt: int,
    outcome: Outcome,
    journal: list[tuple[str, str, object]],
    done: bool,
) -> None:
    setup = Setup()
    setup.handler("agent", behave)
    before(setup)

    assert await setup.delivery().deliver(item(attempt), revoked=lambda: False) is outcome

    assert setup.ops() == journal
    assert (KEY in setup.store.done) is done
    assert setup.ran == ([] if outcome is Outcome.DUPLICATE else [("agent", attempt)])


async def test_an_invalid_record_goes_to_the_dlq_without_a_claim() -> None:
    setup = Setup()
    setup.handler("agent")

    assert await setup.delivery().deliver(item(value=b"not json"), revoked=lambda: False) is Outcome.INVALID

    assert setup.ops() == [("send", ROUTE.dlq_topic, "")]
    assert setup.ran == []


async def test_an_event_held_by_another_is_asked_again_until_done_never_skipped(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr("consumers.delivery.HELD_POLL_S", 0.01)
    setup = Setup()
    setup.handler("agent")
    await setup.store.claim([KEY], "another member", 60_000)

    task = asyncio.create_task(setup.delivery().deliver(item(), revoked=lambda: False))
    await asyncio.sleep(0.05)
    assert not task.done()
    await setup.store.complete([KEY], "another member")

    assert await task is Outcome.DUPLICATE
    assert setup.ran == []
    assert ("claim", KEY, Claim.HELD) in setup.store.journal


async def test_a_cancelled_handler_releases_the_claim_before_the_cancel_goes_on() -> None:
    setup = Setup()
    started = asyncio.Event()

    async def hang(setup: Setup, context: Context) -> None:
        started.set()
        await asyncio.sleep(3600)

    setup.handler("agent", hang)
    task = asyncio.create_task(setup.delivery().deliver(item(), revoked=lambda: False))
    await started.wait()
    task.cancel()

    with pytest.raises(asyncio.CancelledError):
        await task
    assert setup.ops() == [("claim", KEY, Claim.CLAIMED), ("release", KEY, True)]
    assert setup.store.held_by(KEY) is None
    assert setup.sink.sent == []


async def test_a_record_dropped_before_its_handlers_start_is_released_unresolved() -> None:
    setup = Setup()
    setup.handler("agent")

    assert await setup.delivery().deliver(item(), revoked=lambda: setup.store.journal != []) is None

    assert setup.ops() == [("claim", KEY, Claim.CLAIMED), ("release", KEY, True)]
    assert setup.ran == []


async def test_a_retry_runs_only_the_handlers_that_have_not_succeeded_and_done_clears_their_marks() -> None:
    setup = Setup()
    failures = iter([ConnectionError("agent API: 503")])

    async def fail_once(setup: Setup, context: Context) -> None:
        error = next(failures, None)
        if error is not None:
            raise error

    setup.handler("record_order")
    setup.handler("ask_agent", fail_once)
    delivery = setup.delivery()

    assert await delivery.deliver(item(1), revoked=lambda: False) is Outcome.RETRIED
    assert setup.store.marks == {KEY: {"record_order"}}
    assert await delivery.deliver(item(2), revoked=lambda: False) is Outcome.OK

    assert sorted(setup.ran) == [("ask_agent", 1), ("ask_agent", 2), ("record_order", 1)]
    assert [op for op, _, _ in setup.store.journal] == ["claim", "mark", "release", "send", "claim", "complete"]
    assert setup.store.marks == {}
    assert KEY in setup.store.done


async def test_a_handler_out_of_attempts_dead_letters_while_another_keeps_its_success() -> None:
    setup = Setup()
    setup.handler("steady")

    async def doomed(event: Event[Any], context: Context) -> None:
        raise LookupError("no such customer")

    setup.registry.add("hmac", "*", doomed, max_attempts=1)

    assert await setup.delivery().deliver(item(1), revoked=lambda: False) is Outcome.DEAD_LETTERED

    assert setup.store.marks == {KEY: {"steady"}}
    assert [record.topic for record in setup.sink.sent] == [ROUTE.dlq_topic]


async def test_a_retry_and_a_dead_letter_name_the_handlers_that_failed_in_registration_order() -> None:
    setup = Setup()
    setup.handler("record_order")
    setup.handler("ask_agent", fail)
    setup.handler("notify", fail)
    delivery = setup.delivery()

    assert await delivery.deliver(item(1), revoked=lambda: False) is Outcome.RETRIED
    assert await delivery.deliver(item(3), revoked=lambda: False) is Outcome.DEAD_LETTERED

    retry, dead = setup.sink.sent
    assert (retry.topic, dead.topic) == (ROUTE.retry_topic, ROUTE.dlq_topic)
    for record in (retry, dead):
        assert dict(record.headers)[HEADER_FAILED_HANDLERS] == b"ask_agent,notify"


async def test_an_invalid_record_names_no_handler() -> None:
    setup = Setup()
    setup.handler("record_order")
    assert await setup.delivery().deliver(item(value=b"not json"), revoked=lambda: False) is Outcome.INVALID
    [dead] = setup.sink.sent
    assert HEADER_FAILED_HANDLERS not in dict(dead.headers)
