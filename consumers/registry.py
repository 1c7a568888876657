"""Handler registration: which async functions run for which provider and event type, with what limits.

A handler module (named in `CONSUMER_HANDLERS`) creates its own `Registry` as a module-level `registry`
and decorates its handlers with it:

```python
from consumers import Context, Event, Registry

registry = Registry(lifespan=clients)  # optional: shared resources, `context.state`

@registry.handler("stripe", "payment_intent.*", timeout_s=600, max_attempts=3, concurrency=4, rate=Rate(2, burst=10))
async def on_payment(event: Event[StripeEvent], context: Context[Clients]) -> None: ...
```

Every handler has one shape, `async def handler(event, context) -> None`, checked when it is registered; its
`Event[Model]` annotation is checked against the provider's payload model when the worker starts
(`Registry.check`). Either mistake is one line naming the handler, never a failure when an event arrives.

The process imports the modules with `load_handlers` and hands the merged registry to the worker, which enters
each module's lifespan once before its first event (`consumers.runner.HandlerRunner.lifespan`); nothing here is
global.
"""

from __future__ import annotations

import importlib
import inspect
import math
import typing
from collections.abc import Callable, Iterable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from fnmatch import fnmatchcase
from types import UnionType
from typing import Any, Generic, Union, overload

from pydantic import BaseModel
from typing_extensions import TypeVar

from consumers.errors import ConfigError
from consumers.handlers import Event, HandlerFunc
from consumers.settings import least_lease_ms
from schemas.payloads import payload_model

S = TypeVar("S", default=Any)


H = TypeVar("H", bound=HandlerFunc)
# Entered once per worker before its first event and exited on shutdown; what it yields is `context.state`.
Lifespan = Callable[[], AbstractAsyncContextManager[S]]


@dataclass(frozen=True, slots=True)
class Rate:
    """A handler's most events per second, on average, and how many may start at once after a quiet spell.

    A token bucket per handler and worker: it holds `burst` tokens and refills `per_s` a second; a run takes one.
    """

    per_s: float
    burst: int = 1

    def __post_init__(self) -> None:
        if not (math.isfinite(self.per_s) and self.per_s > 0) or self.burst < 1:
            raise ValueError(f"a rate is a positive number of events per second and a burst of 1 or more: {self}")


@dataclass(frozen=True, slots=True, eq=False)
class Handler:
    """A registered handler.

    Attributes:
        name: its registered name (by default the function's name): the `handler` label of the metrics and its
            mark in Redis once it succeeded for an event, so keep it stable.
        func: the function.
        owner: the registry it was registered with; its lifespan gives the handler's `context.state`.
        timeout_s: per run; None for `CONSUMER_HANDLER_TIMEOUT_S`.
        max_attempts: runs before its failure dead-letters the event; None for `CONSUMER_MAX_ATTEMPTS`.
        concurrency: most runs at once in one worker; None for no limit of its own (`CONSUMER_CONCURRENCY` holds).
        rate: most runs per second in one worker; None for none.
    """

    name: str
    func: HandlerFunc = field(repr=False)
    owner: Registry[Any] = field(repr=False)
    timeout_s: float | None = None
    max_attempts: int | None = None
    concurrency: int | None = None
    rate: Rate | None = None

    def same_as(self, other: Handler) -> bool:
        """Whether `other` registers the same function with the same options (a decorator stacked again)."""
        return (self.func, self.owner, self.timeout_s, self.max_attempts, self.concurrency, self.rate) == (
            other.func,
            other.owner,
            other.timeout_s,
            other.max_attempts,
            other.concurrency,
            other.rate,
        )


@dataclass(frozen=True, slots=True)
class _Match:
    provider: str
    pattern: str
    handler: Handler


class Registry(Generic[S]):
    """Handlers by provider and event-type pattern (`fnmatch` globs, case-sensitive: `payment_intent.*`).

    Args:
        lifespan: an async context manager factory for the handlers' shared resources (an LLM client, an HTTP
            pool), entered once per worker before its first event and exited on shutdown (also by `replay`);
            what it yields is `context.state` of this registry's handlers.
    """

    @overload
    def __init__(self: Registry[None]) -> None: ...

    @overload
    def __init__(self: Registry[S], *, lifespan: Lifespan[S]) -> None: ...

    def __init__(self, *, lifespan: Lifespan[Any] | None = None) -> None:
        self.lifespan = lifespan
        self._matches: list[_Match] = []
        self._by_name: dict[str, Handler] = {}
        self._owners: list[Registry[Any]] = [self]
        self._cache: dict[tuple[str, str], tuple[Handler, ...]] = {}
        self._models: dict[tuple[str, str], type[BaseModel] | None] = {}
        self._typed: dict[Handler, bool] = {}

    def handler(
        self,
        provider: str,
        pattern: str = "*",
        *,
        name: str | None = None,
        timeout_s: float | None = None,
        max_attempts: int | None = None,
        concurrency: int | None = None,
        rate: Rate | float | None = None,
    ) -> Callable[[H], H]:
        """Decorator: run the function for the provider's events whose type matches `pattern`.

        Args:
            provider: the provider, or a glob of providers (`*`).
            pattern: a glob of event types.
            name: the registered name; the function's name by default.
            timeout_s: per run, in seconds (default `CONSUMER_HANDLER_TIMEOUT_S`).
            max_attempts: runs before a failure dead-letters the event (default `CONSUMER_MAX_ATTEMPTS`).
            concurrency: most runs at once per worker (default: only `CONSUMER_CONCURRENCY` for all handlers).
            rate: most runs per second per worker, a number or a `Rate` with a burst; a run over it waits
                (its timeout starts once it runs) and holds up nothing else.

        Raises:
            ConfigError: the function has another shape, or an option is out of range; the line names it.
        """

        def register(func: H) -> H:
            self.add(
                provider,
                pattern,
                func,
                name=name,
                timeout_s=timeout_s,
                max_attempts=max_attempts,
                concurrency=concurrency,
                rate=rate,
            )
            return func

        return register

    def add(
        self,
        provider: str,
        pattern: str,
        func: HandlerFunc,
        *,
        name: str | None = None,
        timeout_s: float | None = None,
        max_attempts: int | None = None,
        concurrency: int | None = None,
        rate: Rate | float | None = None,
    ) -> None:
        """Register `func` for the provider's events whose type matches `pattern` (the decorator's options)."""
        label = name if name is not None else getattr(func, "__name__", None) or repr(func)
        where = f"handler {_qualified(func)}"
        _check_shape(func, where)
        try:
            if rate is not None and not isinstance(rate, Rate):
                rate = Rate(float(rate), burst=max(1, math.ceil(rate)))
        except ValueError as exc:
            raise ConfigError(f"{where}: {exc}") from None
        if timeout_s is not None and not (math.isfinite(timeout_s) and timeout_s > 0):
            raise ConfigError(f"{where}: timeout_s must be a positive number of seconds, not {timeout_s!r}")
        for option, value in (("max_attempts", max_attempts), ("concurrency", concurrency)):
            if value is not None and (not isinstance(value, int) or value < 1):
                raise ConfigError(f"{where}: {option} must be a whole number of 1 or more, not {value!r}")
        # A comma would blur the list of failed handlers on a retry or dead letter (`webhook-failed-handlers`).
        if not label or any(c in label for c in "\n\r\x00,"):
            raise ConfigError(f"{where}: {label!r} is no handler name (no comma, line break or NUL)")
        handler = Handler(label, func, self, timeout_s, max_attempts, concurrency, rate)
        self._adopt([_Match(provider, pattern, handler)])

    def include(self, other: Registry[Any]) -> None:
        """Add every handler of another registry, after this one's; they keep that registry's lifespan and state.

        Raises:
            ConfigError: a handler name is taken by another function.
        """
        self._adopt(other._matches)
        self._owners.extend(owner for owner in other._owners if owner not in self._owners)

    def handlers_for(self, provider: str, type: str) -> tuple[Handler, ...]:
        """The handlers of an event, each once, in registration order; empty when the group has nothing to do."""
        found = self._cache.get((provider, type))
        if found is None:
            matching = {
                match.handler.name: match.handler
                for match in self._matches
                if fnmatchcase(provider, match.provider) and fnmatchcase(type, match.pattern)
            }
            found = self._cache[(provider, type)] = tuple(matching.values())
        return found

    def payload_model_for(self, provider: str, type: str) -> type[BaseModel] | None:
        """The model an event's payload is validated with before its handlers run: the provider's
        (`schemas.payloads`) when one of its handlers takes `Event[Model]`, else None (they get plain JSON)."""
        key = (provider, type)
        if key not in self._models:
            typed = any(self.typed(handler) for handler in self.handlers_for(provider, type))
            self._models[key] = payload_model(provider) if typed else None
        return self._models[key]

    def typed(self, handler: Handler) -> bool:
        """Whether a handler takes its payload validated: an `Event[Model]`, not `Event[Any]`, `Event[object]` or a
        bare `Event` (an annotation that can't be resolved counts as typed, so its payload is validated)."""
        found = self._typed.get(handler)
        if found is None:
            try:
                expected = _payload_annotation(handler.func, f"handler {_qualified(handler.func)}")
            except ConfigError:
                expected = None
            found = self._typed[handler] = expected is not Any and expected is not object
        return found

    @property
    def handlers(self) -> tuple[Handler, ...]:
        """Every registered handler, once each, in registration order."""
        return tuple(self._by_name.values())

    @property
    def owners(self) -> tuple[Registry[Any], ...]:
        """This registry and those it included: the lifespans a worker enters, in order."""
        return tuple(self._owners)

    def check(self, providers: Iterable[str]) -> None:
        """Check each handler's `Event[Model]` annotation against the payload model of every provider it is
        registered for (globs against `providers`, the group's `CONSUMER_PROVIDERS`).

        Raises:
            ConfigError: one line naming the first handler whose annotation can't take its provider's events.
        """
        providers = tuple(providers)
        for match in self._matches:
            expected = _payload_annotation(match.handler.func, f"handler {_qualified(match.handler.func)}")
            for provider in providers:
                if fnmatchcase(provider, match.provider):
                    _check_payload(match.handler.func, expected, provider)

    def check_lease(self, lease_ms: int) -> None:
        """Check each handler's own `timeout_s` against the claim lease (`CONSUMER_LEASE_MS`) by the rule the
        settings hold `CONSUMER_HANDLER_TIMEOUT_S` to (`least_lease_ms`).

        Raises:
            ConfigError: one line naming the first handler whose timeout the lease does not cover.
        """
        for handler in self.handlers:
            if handler.timeout_s is None:
                continue
            least_ms = least_lease_ms(handler.timeout_s)
            if lease_ms < least_ms:
                raise ConfigError(
                    f"handler {_qualified(handler.func)}: timeout_s={handler.timeout_s:g} needs CONSUMER_LEASE_MS of "
                    f"at least {least_ms} (a tenth of it), not {lease_ms}"
                )

    def __len__(self) -> int:
        return len(self._matches)

    def _adopt(self, matches: Iterable[_Match]) -> None:
        for match in matches:
            known = self._by_name.get(match.handler.name)
            if known is not None and not known.same_as(match.handler):
                raise ConfigError(
                    f"handler {_qualified(match.handler.func)}: the name {match.handler.name!r} is taken by "
                    f"{_qualified(known.func)} (or registered with other options): pass name=..."
                )
            handler = known if known is not None else match.handler
            self._by_name[handler.name] = handler
            self._matches.append(_Match(match.provider, match.pattern, handler))
        self._cache.clear()
        self._models.clear()


def load_handlers(modules: Iterable[str]) -> Registry[None]:
    """Import handler modules and merge their module-level `registry` objects, in order.

    Raises:
        ConfigError: a module can't be imported, has no `registry: Registry`, registers a handler of another
            shape or a name twice; the message names it.
    """
    merged = Registry()
    for name in modules:
        try:
            module = importlib.import_module(name)
        except ConfigError as exc:
            raise ConfigError(f"CONSUMER_HANDLERS: {name}: {exc}") from exc
        except Exception as exc:
            raise ConfigError(f"CONSUMER_HANDLERS: cannot import {name!r}: {type(exc).__name__}: {exc}") from exc
        registry = getattr(module, "registry", None)
        if not isinstance(registry, Registry):
            raise ConfigError(f"CONSUMER_HANDLERS: module {name!r} has no module-level `registry: Registry`")
        merged.include(registry)
    return merged


def _qualified(func: object) -> str:
    module = getattr(func, "__module__", None)
    name = getattr(func, "__qualname__", None) or repr(func)
    return f"{module}.{name}" if module else name


def _check_shape(func: object, where: str) -> None:
    # Checked, not guessed: one shape is called, any other is refused here, when its module is imported.
    if not inspect.iscoroutinefunction(func):
        raise ConfigError(f"{where}: a handler is an `async def handler(event, context) -> None`")
    signature = inspect.signature(func)
    try:
        signature.bind(None, None)
    except TypeError:
        shown = ", ".join(signature.parameters)
        raise ConfigError(f"{where}: takes ({shown}), but a handler takes (event, context)") from None
    returned = signature.return_annotation
    if returned not in (inspect.Signature.empty, None, "None"):
        raise ConfigError(f"{where}: returns {returned}, but a handler returns None (what it returns is not kept)")


def _payload_annotation(func: HandlerFunc, where: str) -> object:
    # The `Model` of the first parameter's `Event[Model]` annotation; Any where there is none.
    first = next(iter(inspect.signature(func).parameters))
    try:
        hints = typing.get_type_hints(func)
    except Exception as exc:
        raise ConfigError(f"{where}: its annotations can't be resolved ({type(exc).__name__}: {exc})") from None
    hint = hints.get(first, Any)
    if hint is Any or hint is Event:
        return Any
    if typing.get_origin(hint) is not Event:
        raise ConfigError(f"{where}: its first parameter is annotated {hint}, not Event[...]")
    (model,) = typing.get_args(hint)
    return model


def _check_payload(func: HandlerFunc, expected: object, provider: str) -> None:
    model = payload_model(provider)
    got = "plain JSON (no payload model)" if model is None else f"{model.__module__}.{model.__qualname__}"
    if not _fits(model, expected):
        raise ConfigError(
            f"handler {_qualified(func)}: takes Event[{_shown(expected)}], but {provider} events carry {got}"
        )


def _fits(model: type[BaseModel] | None, expected: object) -> bool:
    # Whether every payload of the provider (validated with `model`, or plain JSON) is an `expected`.
    if expected is Any or expected is object:
        return True
    if typing.get_origin(expected) in (Union, UnionType):
        return any(_fits(model, arg) for arg in typing.get_args(expected))
    plain = typing.get_origin(expected) or expected
    if not isinstance(plain, type):
        return False
    return not issubclass(plain, BaseModel) if model is None else issubclass(model, plain)


def _shown(annotation: object) -> str:
    # `StripeEvent`, `dict[str, Any]`, `StripeEvent | GitHubEvent`: as written in the handler's signature.
    if isinstance(annotation, type):
        return annotation.__qualname__
    return repr(annotation).replace("typing.", "").replace("schemas.", "")
