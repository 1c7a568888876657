"""Handler registration and lookup, the one handler shape, options, the start-up check of `Event[Model]`, and
loading handler modules by name."""

from __future__ import annotations

import re
import sys
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from types import ModuleType
from typing import Any

import pytest

from consumers import Context, Event, Registry
from consumers.errors import ConfigError
from consumers.registry import Handler, Rate, load_handlers
from schemas.github import GitHubEvent
from schemas.stripe import StripeEvent

# Handlers are named by their module and qualified name.
HERE = re.escape(f"{__name__}.")


async def noop(event: Event[Any], context: Context) -> None:
    return None


async def other(event: Event[Any], context: Context) -> None:
    return None


def _funcs(handlers: tuple[Handler, ...]) -> list[object]:
    return [handler.func for handler in handlers]


def test_globs_match_event_types_in_registration_order() -> None:
    registry = Registry()
    registry.add("stripe", "payment_intent.*", noop)
    registry.add("stripe", "*", other)

    assert _funcs(registry.handlers_for("stripe", "payment_intent.succeeded")) == [noop, other]
    assert _funcs(registry.handlers_for("stripe", "charge.refunded")) == [other]
    assert registry.handlers_for("github", "payment_intent.succeeded") == ()


def test_matching_is_case_sensitive_and_exact_without_a_glob() -> None:
    registry = Registry()
    registry.add("github", "issues", noop)

    assert _funcs(registry.handlers_for("github", "issues")) == [noop]
    assert registry.handlers_for("github", "Issues") == ()
    assert registry.handlers_for("github", "issue_comment") == ()


def test_the_decorator_returns_the_function_and_stacks_into_one_handler() -> None:
    registry = Registry()

    @registry.handler("github", "issues*")
    @registry.handler("github", "issues.opened")
    async def triage(event: Event[Any], context: Context) -> None:
        return None

    # Both patterns match `issues.opened`: the handler runs once for it.
    assert _funcs(registry.handlers_for("github", "issues.opened")) == [triage]
    assert _funcs(registry.handlers_for("github", "issues.closed")) == [triage]
    assert [handler.name for handler in registry.handlers] == ["triage"]
    assert len(registry) == 2


def test_a_handler_added_later_is_found() -> None:
    registry = Registry()
    assert registry.handlers_for("hmac", "x") == ()
    registry.add("hmac", "*", noop)
    assert _funcs(registry.handlers_for("hmac", "x")) == [noop]


def test_options_are_kept_and_a_number_is_a_rate_with_a_burst_of_one_second() -> None:
    registry = Registry()
    registry.add("hmac", "*", noop, timeout_s=600, max_attempts=2, concurrency=3, rate=2.5)
    registry.add("hmac", "*", other, name="forward", rate=Rate(5, burst=20))

    first, second = registry.handlers_for("hmac", "x")
    assert (first.name, first.timeout_s, first.max_attempts, first.concurrency) == ("noop", 600, 2, 3)
    assert first.rate == Rate(2.5, burst=3)
    assert (second.name, second.rate) == ("forward", Rate(5, burst=20))


async def _sync(event: Event[Any], context: Context) -> None:
    return None


def _not_async(event: Event[Any], context: Context) -> None:
    return None


async def _event_alone(event: Event[Any]) -> None:
    return None


async def _three(event: Event[Any], context: Context, extra: int) -> None:
    return None


async def _returns(event: Event[Any], context: Context) -> int:
    return 1


@pytest.mark.parametrize(
    ("func", "message"),
    [
        (_not_async, rf"^handler {HERE}_not_async: a handler is an `async def handler\("),
        (_event_alone, rf"^handler {HERE}_event_alone: takes \(event\), but a handler takes "),
        (_three, rf"^handler {HERE}_three: takes \(event, context, extra\), but a handler"),
        (_returns, rf"^handler {HERE}_returns: returns int, but a handler returns None"),
    ],
)
def test_a_handler_of_another_shape_is_refused_with_one_line_naming_it(func: Any, message: str) -> None:
    registry = Registry()
    with pytest.raises(ConfigError, match=message) as caught:
        registry.add("hmac", "*", func)
    assert "\n" not in str(caught.value)
    assert registry.handlers_for("hmac", "x") == ()


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"timeout_s": 0}, "timeout_s must be a positive number of seconds"),
        ({"timeout_s": float("inf")}, "timeout_s must be a positive number of seconds"),
        ({"max_attempts": 0}, "max_attempts must be a whole number of 1 or more"),
        ({"concurrency": 1.5}, "concurrency must be a whole number of 1 or more"),
        ({"rate": 0}, "a rate is a positive number of events per second"),
        ({"name": ""}, "'' is no handler name"),
        # Dead letters list the failed handlers comma-separated.
        ({"name": "a,b"}, "'a,b' is no handler name"),
    ],
)
def test_options_out_of_range_are_refused_naming_the_handler(options: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError, match=rf"^handler {HERE}noop: {message}"):
        Registry().add("hmac", "*", noop, **options)


@pytest.mark.parametrize(("per_s", "burst"), [(0, 1), (-1, 1), (float("nan"), 1), (1, 0)])
def test_a_rate_checks_itself(per_s: float, burst: int) -> None:
    with pytest.raises(ValueError, match="a rate is a positive number of events per second and a burst"):
        Rate(per_s, burst=burst)


def test_a_name_taken_by_another_function_is_refused_until_one_is_renamed() -> None:
    first, second = Registry(), Registry()
    first.add("hmac", "*", noop, name="send")
    second.add("hmac", "*", other, name="send")
    merged = Registry()
    merged.include(first)
    with pytest.raises(ConfigError, match=rf"handler {HERE}other: the name 'send' is taken"):
        merged.include(second)

    again = Registry()
    again.add("hmac", "*", noop, timeout_s=1)
    with pytest.raises(ConfigError, match="or registered with other options"):
        again.add("stripe", "*", noop, timeout_s=2)


def _module(monkeypatch: pytest.MonkeyPatch, name: str, registry: object) -> str:
    module = ModuleType(name)
    module.registry = registry  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, name, module)
    return name


def test_load_handlers_merges_module_registries_in_order_each_keeping_its_lifespan(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    @asynccontextmanager
    async def clients() -> AsyncIterator[str]:
        yield "clients"

    first, second = Registry(lifespan=clients), Registry()
    first.add("hmac", "*", noop)
    second.add("hmac", "*", other)

    merged = load_handlers([_module(monkeypatch, "handlers_a", first), _module(monkeypatch, "handlers_b", second)])

    assert _funcs(merged.handlers_for("hmac", "anything")) == [noop, other]
    assert [handler.owner for handler in merged.handlers] == [first, second]
    assert merged.owners[1:] == (first, second)


def test_the_example_agent_module_loads() -> None:
    registry = load_handlers(["consumers.examples.agent"])
    assert registry.handlers_for("stripe", "payment_intent.succeeded")
    assert registry.handlers_for("github", "issues.opened")
    assert registry.handlers_for("hmac", "anything")
    assert not registry.handlers_for("github", "push")
    registry.check(["hmac", "github", "stripe"])


def test_a_module_that_does_not_import_is_named() -> None:
    with pytest.raises(ConfigError, match=r"CONSUMER_HANDLERS: cannot import 'no_such_handlers_module'"):
        load_handlers(["no_such_handlers_module"])


def test_a_module_without_a_registry_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    name = _module(monkeypatch, "handlers_without_registry", "not a registry")
    with pytest.raises(ConfigError, match=r"module 'handlers_without_registry' has no module-level `registry"):
        load_handlers([name])


async def on_github(event: Event[GitHubEvent], context: Context) -> None:
    return None


async def on_stripe(event: Event[StripeEvent], context: Context) -> None:
    return None


async def on_either(event: Event[StripeEvent | GitHubEvent], context: Context) -> None:
    return None


async def on_json(event: Event[dict[str, Any]], context: Context) -> None:
    return None


async def on_bare(event: Event, context: Context) -> None:  # type: ignore[type-arg]
    return None


async def on_unannotated(event, context) -> None:  # type: ignore[no-untyped-def]
    return None


@pytest.mark.parametrize(
    ("provider", "func", "providers"),
    [
        ("stripe", on_stripe, ["stripe", "github"]),
        ("*", on_either, ["stripe", "github"]),
        ("*", noop, ["stripe", "github", "acme"]),
        ("*", on_bare, ["stripe"]),
        ("*", on_unannotated, ["stripe"]),
        ("acme", on_json, ["acme"]),  # a provider without a payload model: the plain JSON
        ("github", on_github, ["stripe"]),  # registered for a provider the group does not read
    ],
)
def test_an_annotation_that_fits_its_providers_payload_starts(
    provider: str, func: Callable[..., Any], providers: list[str]
) -> None:
    registry = Registry()
    registry.add(provider, "*", func)
    registry.check(providers)


@pytest.mark.parametrize(
    ("provider", "func", "providers", "message"),
    [
        ("stripe", on_github, ["stripe"], r"on_github: takes Event\[GitHubEvent\], but stripe events carry "),
        ("*", on_stripe, ["stripe", "github"], r"on_stripe: takes Event\[StripeEvent\], but github events carry "),
        ("acme", on_stripe, ["acme"], r"on_stripe: takes Event\[StripeEvent\], but acme events carry plain JSON"),
        ("stripe", on_json, ["stripe"], r"on_json: takes Event\[dict\[str, Any\]\], but stripe events"),
    ],
)
def test_an_annotation_that_does_not_fit_refuses_to_start_with_one_line_naming_the_handler(
    provider: str, func: Callable[..., Any], providers: list[str], message: str
) -> None:
    registry = Registry()
    registry.add(provider, "*", func)
    with pytest.raises(ConfigError, match=rf"^handler {HERE}{message}") as caught:
        registry.check(providers)
    assert "\n" not in str(caught.value)


@pytest.mark.parametrize(
    ("func", "validated"),
    [(on_unannotated, False), (on_bare, False), (noop, False), (on_github, True), (on_either, True)],
)
def test_a_payload_is_validated_only_for_a_handler_that_takes_a_model(
    func: Callable[..., Any], validated: bool
) -> None:
    registry = Registry()
    registry.add("github", "*", func)
    [handler] = registry.handlers
    assert registry.typed(handler) is validated
    assert registry.payload_model_for("github", "push") is (GitHubEvent if validated else None)
    registry.add("github", "*", on_github)  # one handler that takes the model is enough
    assert registry.payload_model_for("github", "push") is GitHubEvent


def test_a_provider_without_a_model_gives_plain_json_to_every_handler() -> None:
    registry = Registry()
    registry.add("acme", "*", on_json)
    assert registry.payload_model_for("acme", "x") is None
