"""The benchmark's handler set: one no-op handler for every provider and type, so the worker's own cost
(fetch, decode, validate, claim, complete, commit) is what gets measured."""

from __future__ import annotations

from consumers import Context, Event, Registry

registry = Registry()


@registry.handler("*", "*")
async def noop(event: Event[object], context: Context[None]) -> None:
    return None
