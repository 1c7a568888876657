"""The example agent handlers on real provider samples: one agent client per worker (the lifespan's), the event
id as idempotency key."""

from __future__ import annotations

import json
import logging
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from consumers.examples.agent import (
    Agent,
    AgentTask,
    agent_client,
    on_issue_or_pull_request,
    on_payment,
    on_signed_event,
    registry,
)
from consumers.handlers import Context, Event, bound_logger
from schemas import Envelope
from schemas.github import GitHubEvent
from schemas.hmac import HmacEvent
from schemas.stripe import StripeEvent


def _context(event: Event[Any], agent: Agent, attempt: int = 1) -> Context[Agent]:
    logger = bound_logger(logging.getLogger("test"), event_id=event.id, event_type=event.type, attempt=attempt)
    return Context(attempt, 5, time.monotonic() + 30, event.id, logger, agent)


def _event(provider: str, type: str, payload: Any, event_id: str = "evt_1") -> Envelope:
    return Envelope(
        id=event_id, source=provider, provider=provider, type=type, received_at=datetime.now(UTC), payload=payload
    )


async def test_a_github_issue_is_triaged(samples: Path) -> None:
    payload = json.loads((samples / "github" / "issues" / "labeled.payload.json").read_text())
    envelope = _event("github", "issues.labeled", payload, "3b1d9a2e-delivery")
    assert [handler.func for handler in registry.handlers_for("github", envelope.type)] == [on_issue_or_pull_request]
    event = Event(envelope, GitHubEvent.model_validate(payload))

    async with agent_client() as agent:
        await on_issue_or_pull_request(event, _context(event, agent))

    [result] = agent.results
    assert result.summary == "triage: Triage the issues that was labeled"
    assert agent.closed


async def test_a_stripe_payment_is_followed_up() -> None:
    payload = {
        "id": "evt_1",
        "object": "event",
        "type": "payment_intent.succeeded",
        "created": 1,
        "livemode": False,
        "data": {"object": {"id": "pi_1", "amount": 2000, "currency": "usd"}},
    }
    envelope = _event("stripe", "payment_intent.succeeded", payload)
    event = Event(envelope, StripeEvent.model_validate(payload))
    agent = Agent()

    await on_payment(event, _context(event, agent, attempt=2))

    assert [result.summary for result in agent.results] == ["payment: Follow up on payment_intent.succeeded"]


async def test_the_same_event_gives_the_same_agent_run() -> None:
    envelope = _event("hmac", "order.created", {"id": "o1"}, "o1")
    event = Event(envelope, HmacEvent.model_validate({"id": "o1"}))
    agent = Agent()

    await on_signed_event(event, _context(event, agent))
    await on_signed_event(event, _context(event, agent, attempt=2))

    first, again = agent.results
    assert first == again
    assert first.run_id != (await agent.run(AgentTask("generic", "x", {}), idempotency_key="o2")).run_id
