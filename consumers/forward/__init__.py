"""A built-in handler module that forwards events to an agent service in any language, signed with Standard Webhooks.

Run a group with `CONSUMER_HANDLERS=consumers.forward`, `FORWARD_URL` and `FORWARD_SECRET` (a `whsec_` secret):
each event its filters let through (`FORWARD_PROVIDERS`, `FORWARD_TYPES`) is POSTed to the URL as its envelope
JSON, with `webhook-id` (the event's idempotency key), `webhook-timestamp` and `webhook-signature`, so the agent
verifies it with any Standard Webhooks library. A 2xx is done; a 408, 429, 5xx or no answer is retried
(after its `Retry-After`, where it has one); any other answer sends the event to the DLQ.

The settings are read and the HTTP client opened once per worker, by the registry's lifespan (`open_forwarder`),
before the first event: a missing or bad setting stops the worker at start-up with one line.

The modules, as a delivery flows: `settings` (the `FORWARD_*` variables), `signing` (the Standard Webhooks
headers), `forwarder` (the POST over the worker's one HTTP client), `answers` (what the answer means).
"""

from __future__ import annotations

from typing import Any

from consumers import Context, Event, Registry
from consumers.forward.forwarder import Forwarder, open_forwarder

__all__ = ["Forwarder", "forward", "open_forwarder", "registry"]

registry = Registry(lifespan=open_forwarder)


@registry.handler("*", "*")
async def forward(event: Event[Any], context: Context[Forwarder]) -> None:
    """POST the event to `FORWARD_URL`, signed (`Forwarder.send`)."""
    await context.state.send(event, context)
