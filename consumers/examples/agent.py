"""Example handlers: an AI agent behind the consumers. Copy this module and replace `Agent`.

Each handler turns an event into a typed `AgentTask` and hands it to the agent client with the event's
idempotency key and what is left of its deadline. The client is a shared resource: the registry's lifespan
opens it once per worker before the first event and closes it on shutdown, and each handler finds it in
`context.state`. What the worker guarantees around a handler: one successful run per event id, handler and
group (duplicates are dropped, and a retry runs only the handlers that have not succeeded), its timeout, a
retry with backoff on any exception (raise `PermanentError` for an event that can never succeed,
`RetryLater` to pick the delay) and the DLQ after its last attempt.

Enable it with `CONSUMER_HANDLERS=consumers.examples.agent` (`make run` and the compose stack do).
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

from consumers import Context, Event, Registry
from schemas.github import GitHubEvent
from schemas.hmac import HmacEvent
from schemas.stripe import StripeEvent

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class AgentTask:
    """What the agent is asked to do: an instruction and the few facts it needs (not the whole payload)."""

    kind: str
    instruction: str
    facts: dict[str, Any]


@dataclass(frozen=True, slots=True)
class AgentResult:
    """What the agent answered."""

    run_id: str
    summary: str


class Agent:
    """A stand-in for an LLM or agent API client: local and deterministic, no network.

    A real one holds a connection pool, hence one per worker (the lifespan's) rather than one per event.
    """

    def __init__(self) -> None:
        self.results: list[AgentResult] = []
        self.closed = False

    async def run(self, task: AgentTask, *, idempotency_key: str, timeout_s: float | None = None) -> AgentResult:
        """Run the agent on a task.

        A real one sends `idempotency_key` along (most agent and LLM APIs take one, or keep it in your own run
        table): a retry after a timeout then finds the first run instead of starting a second. `timeout_s` is what
        is left of the handler's deadline: a call given less than that fails cleanly before the worker cancels it.
        """
        run_id = hashlib.sha256(f"{task.kind}:{idempotency_key}".encode()).hexdigest()[:16]
        result = AgentResult(run_id=run_id, summary=f"{task.kind}: {task.instruction}")
        self.results.append(result)
        return result

    async def aclose(self) -> None:
        """Let go of the client's connections."""
        self.closed = True


@asynccontextmanager
async def agent_client() -> AsyncIterator[Agent]:
    """The registry's lifespan: one agent client per worker, closed on shutdown."""
    agent = Agent()
    try:
        yield agent
    finally:
        await agent.aclose()


# What `CONSUMER_HANDLERS` loads: the worker reads this module-level name.
registry = Registry(lifespan=agent_client)


@registry.handler("stripe", "payment_intent.*")
@registry.handler("stripe", "charge.*")
async def on_payment(event: Event[StripeEvent], context: Context[Agent]) -> None:
    """A payment changed: ask the agent to follow up with the customer."""
    obj = event.payload.data.object
    task = AgentTask(
        kind="payment",
        instruction=f"Follow up on {event.type}",
        facts={"object_id": obj.get("id"), "amount": obj.get("amount"), "currency": obj.get("currency")},
    )
    await _run(task, context)


@registry.handler("github", "issues.*")
@registry.handler("github", "pull_request.*")
async def on_issue_or_pull_request(event: Event[GitHubEvent], context: Context[Agent]) -> None:
    """An issue or pull request changed: ask the agent to triage it."""
    repository = event.payload.repository.full_name if event.payload.repository else None
    task = AgentTask(
        kind="triage",
        # GitHub types are `<X-GitHub-Event>.<action>`: `issues.opened`, `pull_request.closed`.
        instruction=f"Triage the {event.type.partition('.')[0]} that was {event.payload.action or 'changed'}",
        facts={"repository": repository, "sender": event.payload.sender.login if event.payload.sender else None},
    )
    await _run(task, context)


@registry.handler("hmac", "*")
async def on_signed_event(event: Event[HmacEvent], context: Context[Agent]) -> None:
    """Any event of a generic HMAC sender: hand its type to the agent."""
    task = AgentTask(kind="generic", instruction=f"Handle {event.type or 'an event'}", facts={})
    await _run(task, context)


async def _run(task: AgentTask, context: Context[Agent]) -> None:
    result = await context.state.run(task, idempotency_key=context.idempotency_key, timeout_s=context.time_left_s)
    context.log.info("agent run %s", result.run_id)
