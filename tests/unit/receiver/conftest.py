"""Fixtures of the receiver's unit tests: the in-memory publisher an app publishes to, and a metrics registry
of the test's own."""

from __future__ import annotations

import pytest
from prometheus_client import CollectorRegistry

from tests.fakes import RecordingPublisher


@pytest.fixture
def publisher() -> RecordingPublisher:
    return RecordingPublisher()


@pytest.fixture
def registry() -> CollectorRegistry:
    return CollectorRegistry()
