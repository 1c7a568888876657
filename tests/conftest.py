"""Shared fixtures: the real Kafka broker and Redis server for integration tests.

The session starts them with `compose/local/stack.py` where they don't answer yet (`make test` has
usually started them already). Where they can't be started the run fails and says why: an integration
test is never skipped.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import redis.asyncio

from tests.repository import SAMPLES, stack
from tests.suffixes import new_suffix

# Tests keep their claims in a database of their own, flushed per test, away from `make run`'s db 0.
# Two test runs at once on one Redis (two checkouts) each need their own: TEST_REDIS_DB picks it.
TEST_REDIS_DB = int(os.environ.get("TEST_REDIS_DB", "15"))


@pytest.fixture(scope="session")
def local_stack() -> tuple[str, str]:
    """(bootstrap servers, redis base URL) of a running broker and Redis; started here if needed."""
    try:
        stack.up()
    except stack.StackError as exc:
        pytest.fail(f"integration tests need Kafka and Redis, and they could not be started: {exc}")
    broker, redis_server = stack.configured()
    return broker.bootstrap, f"redis://127.0.0.1:{redis_server.port}"


@pytest.fixture(scope="session")
def kafka_bootstrap(local_stack: tuple[str, str]) -> str:
    return local_stack[0]


@pytest.fixture
def redis_url(local_stack: tuple[str, str]) -> str:
    return f"{local_stack[1]}/{TEST_REDIS_DB}"


@pytest.fixture
async def redis_client(redis_url: str) -> AsyncIterator[redis.asyncio.Redis]:
    client = redis.asyncio.Redis.from_url(redis_url)
    await client.flushdb()
    yield client
    await client.flushdb()
    await client.aclose()


@pytest.fixture
def unique() -> str:
    """A short random suffix, so each test gets its own topics and consumer groups on the shared broker."""
    return new_suffix()


@pytest.fixture(scope="session")
def samples() -> Path:
    if not SAMPLES.is_dir():
        pytest.fail(f"the provider samples are missing: expected {SAMPLES}")
    return SAMPLES


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "/integration/" in str(item.path):
            item.add_marker(pytest.mark.integration)
