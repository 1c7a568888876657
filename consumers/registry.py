"""Handler registration: which async functions run for which provider and event type.

A handler module (named in `CONSUMER_HANDLERS`) creates its own `Registry` as a module-level `registry`
and decorates its handlers with it:

```python
from consumers import Context, Event, Registry

registry = Registry()

@registry.handler("stripe", "payment_intent.*")
async def on_payment(event: Event[StripeEvent], context: Context) -> None: ...
```

A handler takes the event and a `Context` (attempt, deadline, idempotency key, a bound logger); one that needs
no context may take the event alone.

The process imports the modules with `load_handlers` and hands the merged registry to the worker;
nothing here is global.
"""

from __future__ import annotations

import functools
import importlib
import inspect
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from fnmatch import fnmatchcase
from typing import Any, TypeVar

from consumers.errors import ConfigError
from consumers.handlers import AnyHandler, Context, Event, Handler

H = TypeVar("H", bound=AnyHandler)


@dataclass(frozen=True, slots=True)
class _Registration:
    provider: str
    pattern: str
    handler: AnyHandler
    # The handler as the worker calls it: with the context, whatever it takes.
    call: Handler


class Registry:
    """Handlers by provider and event-type pattern (`fnmatch` globs, case-sensitive: `payment_intent.*`)."""

    def __init__(self) -> None:
        self._registrations: list[_Registration] = []
        self._cache: dict[tuple[str, str], tuple[_Registration, ...]] = {}

    def handler(self, provider: str, pattern: str = "*") -> Callable[[H], H]:
        """Decorator: run the function for the provider's events whose type matches `pattern`."""

        def register(func: H) -> H:
            self.add(provider, pattern, func)
            return func

        return register

    def add(self, provider: str, pattern: str, handler: AnyHandler) -> None:
        """Register `handler` for the provider's events whose type matches `pattern`."""
        self._registrations.append(_Registration(provider, pattern, handler, _with_context(handler)))
        self._cache.clear()

    def include(self, other: Registry) -> None:
        """Add every handler of another registry, after this one's."""
        self._registrations.extend(other._registrations)
        self._cache.clear()

    def handlers_for(self, provider: str, type: str) -> tuple[AnyHandler, ...]:
        """The handlers of an event, in registration order; empty when the group has nothing to do for it."""
        return tuple(entry.handler for entry in self._matching(provider, type))

    def calls_for(self, provider: str, type: str) -> tuple[Handler, ...]:
        """`handlers_for`, each as the worker calls it: `call(event, context)`."""
        return tuple(entry.call for entry in self._matching(provider, type))

    def _matching(self, provider: str, type: str) -> tuple[_Registration, ...]:
        found = self._cache.get((provider, type))
        if found is None:
            found = tuple(
                entry
                for entry in self._registrations
                if fnmatchcase(provider, entry.provider) and fnmatchcase(type, entry.pattern)
            )
            self._cache[(provider, type)] = found
        return found

    def __len__(self) -> int:
        return len(self._registrations)


def _with_context(handler: AnyHandler) -> Handler:
    try:
        parameters = inspect.signature(handler).parameters.values()
    except (TypeError, ValueError):  # a callable without a signature: call it the documented way
        return handler  # type: ignore[return-value]
    positional = [p for p in parameters if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    if len(positional) != 1 or any(p.kind is p.VAR_POSITIONAL for p in parameters):
        return handler  # type: ignore[return-value]
    event_only: Callable[[Event[Any]], Awaitable[object]] = handler  # type: ignore[assignment]

    @functools.wraps(event_only)
    async def call(event: Event[Any], context: Context) -> object:
        return await event_only(event)

    return call


def load_handlers(modules: Iterable[str]) -> Registry:
    """Import handler modules and merge their module-level `registry` objects, in order.

    Raises:
        ConfigError: a module can't be imported or has no `registry: Registry`; the message names it.
    """
    merged = Registry()
    for name in modules:
        try:
            module = importlib.import_module(name)
        except Exception as exc:
            raise ConfigError(f"CONSUMER_HANDLERS: cannot import {name!r}: {type(exc).__name__}: {exc}") from exc
        registry = getattr(module, "registry", None)
        if not isinstance(registry, Registry):
            raise ConfigError(f"CONSUMER_HANDLERS: module {name!r} has no module-level `registry: Registry`")
        merged.include(registry)
    return merged
