"""A built-in handler module that forwards events to an agent service in any language, signed with Standard Webhooks.

Run a group with `CONSUMER_HANDLERS=consumers.forward`, `FORWARD_URL` and `FORWARD_SECRET` (a `whsec_` secret):
each event its filters let through (`FORWARD_PROVIDERS`, `FORWARD_TYPES`) is POSTed to the URL as its envelope
JSON, with `webhook-id` (the event's idempotency key), `webhook-timestamp` and `webhook-signature`, so the agent
verifies it with any Standard Webhooks library. A 2xx is done; a 408, 429, 5xx or no answer is retried
(after its `Retry-After`, where it has one); any other answer sends the event to the DLQ.

The modules, as a delivery flows: `settings` (the `FORWARD_*` variables), `signing` (the Standard Webhooks
headers), `forwarder` (the POST over one shared HTTP client), `answers` (what the answer means for the event).
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

from consumers import Context, Event, Registry
from consumers.errors import ConfigError, HandlerError
from consumers.forward.forwarder import Forwarder, open_forwarder

__all__ = ["Forwarder", "forward", "open_forwarder", "registry"]

registry = Registry()

# The forwarder (settings and HTTP client) is opened by the first event and lives as long as the worker.
# TODO(lifespan): `Registry(lifespan=open_forwarder)`, so that a bad setting stops the worker at start-up.
_opened = contextlib.AsyncExitStack()
_forwarders: list[Forwarder] = []
_opening = asyncio.Lock()


async def _forwarder() -> Forwarder:
    async with _opening:  # events start side by side: one client for all of them
        if not _forwarders:
            try:
                _forwarders.append(await _opened.enter_async_context(open_forwarder()))
            except ConfigError as exc:
                # Retried, not dead-lettered at once: fixed and restarted in time, the worker loses nothing.
                raise HandlerError(f"consumers.forward can't start: {exc}") from exc
    return _forwarders[0]


@registry.handler("*", "*")
async def forward(event: Event[Any], context: Context) -> None:
    """POST the event to `FORWARD_URL`, signed (`consumers.forward.forwarder.Forwarder.send`)."""
    forwarder = await _forwarder()
    await forwarder.send(event, context)
