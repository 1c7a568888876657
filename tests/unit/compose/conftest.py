"""Fixtures of the compose/ tests: the files as parsed, and the names our processes export and read."""

from __future__ import annotations

import json
from typing import Any

import pytest
from prometheus_client import CollectorRegistry

from consumers.metrics import ConsumerMetrics
from receiver.metrics import ReceiverMetrics
from tests.repository import COMPOSE
from tests.unit.compose.files import load_yaml

# The sample names a metric family of each type exposes (prometheus_client's text format).
_SUFFIXES = {"counter": ("_total",), "gauge": ("",), "histogram": ("_bucket", "_sum", "_count")}


@pytest.fixture(scope="session")
def compose() -> dict[str, Any]:
    data: dict[str, Any] = load_yaml(COMPOSE / "compose.yaml")
    return data


@pytest.fixture(scope="session")
def dashboard() -> dict[str, Any]:
    data: dict[str, Any] = json.loads((COMPOSE / "grafana" / "dashboards" / "webhooks.json").read_text())
    return data


@pytest.fixture(scope="session")
def exported_names() -> set[str]:
    """Every sample name the receiver and the consumers can expose."""
    registry = CollectorRegistry()
    ReceiverMetrics(registry)
    ConsumerMetrics(registry)
    return {family.name + suffix for family in registry.collect() for suffix in _SUFFIXES[family.type]}
