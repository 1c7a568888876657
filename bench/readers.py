"""Handlers that read the payload, for what a real handler pays on top of the worker's own cost (`bench/noop.py`
reads nothing): `json` takes `Event[Any]` and reads the plain JSON (parsed when first read), `model` takes
`Event[GitHubEvent]` (the payload validated with the model before it runs). `python -m bench.consumer --handler`."""

from __future__ import annotations

from typing import Any

from consumers import Context, Event, Registry
from schemas.github import GitHubEvent

json: Registry[None] = Registry()
model: Registry[None] = Registry()


@json.handler("*", "*")
async def reads_json(event: Event[Any], context: Context[None]) -> None:
    event.payload.get("action")


@model.handler("github", "*")
async def reads_model(event: Event[GitHubEvent], context: Context[None]) -> None:
    assert event.payload.action is None or isinstance(event.payload.action, str)
