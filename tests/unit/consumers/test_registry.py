"""Handler registration and lookup, and loading handler modules by name."""

from __future__ import annotations

import sys
from types import ModuleType
from typing import Any

import pytest

from consumers.errors import ConfigError
from consumers.handlers import Event
from consumers.registry import Registry, load_handlers


async def noop(event: Event[Any]) -> None:
    return None


async def other(event: Event[Any]) -> None:
    return None


def test_globs_match_event_types_in_registration_order() -> None:
    registry = Registry()
    registry.add("stripe", "payment_intent.*", noop)
    registry.add("stripe", "*", other)

    assert registry.handlers_for("stripe", "payment_intent.succeeded") == (noop, other)
    assert registry.handlers_for("stripe", "charge.refunded") == (other,)
    assert registry.handlers_for("github", "payment_intent.succeeded") == ()


def test_matching_is_case_sensitive_and_exact_without_a_glob() -> None:
    registry = Registry()
    registry.add("github", "issues", noop)

    assert registry.handlers_for("github", "issues") == (noop,)
    assert registry.handlers_for("github", "Issues") == ()
    assert registry.handlers_for("github", "issue_comment") == ()


def test_the_decorator_returns_the_function_and_stacks() -> None:
    registry = Registry()

    @registry.handler("github", "issues")
    @registry.handler("github", "pull_request")
    async def triage(event: Event[Any]) -> None:
        return None

    assert registry.handlers_for("github", "issues") == (triage,)
    assert registry.handlers_for("github", "pull_request") == (triage,)
    assert len(registry) == 2


def test_a_handler_added_later_is_found() -> None:
    registry = Registry()
    assert registry.handlers_for("hmac", "x") == ()
    registry.add("hmac", "*", noop)
    assert registry.handlers_for("hmac", "x") == (noop,)


def _module(monkeypatch: pytest.MonkeyPatch, name: str, registry: object) -> str:
    module = ModuleType(name)
    module.registry = registry  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, name, module)
    return name


def test_load_handlers_merges_module_registries_in_order(monkeypatch: pytest.MonkeyPatch) -> None:
    first, second = Registry(), Registry()
    first.add("hmac", "*", noop)
    second.add("hmac", "*", other)

    merged = load_handlers([_module(monkeypatch, "handlers_a", first), _module(monkeypatch, "handlers_b", second)])

    assert merged.handlers_for("hmac", "anything") == (noop, other)


def test_the_example_agent_module_loads() -> None:
    registry = load_handlers(["consumers.examples.agent"])
    assert registry.handlers_for("stripe", "payment_intent.succeeded")
    assert registry.handlers_for("github", "issues.opened")
    assert registry.handlers_for("hmac", "anything")
    assert not registry.handlers_for("github", "push")


def test_a_module_that_does_not_import_is_named() -> None:
    with pytest.raises(ConfigError, match=r"CONSUMER_HANDLERS: cannot import 'no_such_handlers_module'"):
        load_handlers(["no_such_handlers_module"])


def test_a_module_without_a_registry_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    name = _module(monkeypatch, "handlers_without_registry", "not a registry")
    with pytest.raises(ConfigError, match=r"module 'handlers_without_registry' has no module-level `registry"):
        load_handlers([name])
