"""The shipped dashboard against live scrapes: every metric a panel queries is one the processes expose.

A renamed metric breaks a dashboard silently (an empty panel); here it breaks a test. The receiver and a
worker run for real (Kafka, Redis), handle a signed event, a duplicate of it and a forged one, and their
/metrics are scraped over HTTP as Prometheus would.
"""

from __future__ import annotations

import asyncio
import json
import time

import pytest
import redis.asyncio
from prometheus_client.parser import text_string_to_metric_families

from tests.integration.live_stack import live_stack
from tests.repository import COMPOSE
from tests.unit.compose.promql import metric_names

DASHBOARD = COMPOSE / "grafana" / "dashboards" / "webhooks.json"


def sample_names(text: str) -> set[str]:
    return {sample.name for family in text_string_to_metric_families(text) for sample in family.samples}


def sample_value(text: str, name: str, **labels: str) -> float:
    return sum(
        sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name == name and labels.items() <= sample.labels.items()
    )


async def test_every_metric_the_dashboard_queries_is_in_the_live_scrapes(
    kafka_bootstrap: str, redis_url: str, redis_client: redis.asyncio.Redis, unique: str
) -> None:
    dashboard = json.loads(DASHBOARD.read_text())
    queried = {
        name
        for panel in dashboard["panels"]
        if panel["type"] != "row"
        for target in panel["targets"]
        for name in metric_names(target["expr"])
    }
    assert len(queried) >= 10

    async with live_stack(kafka_bootstrap, redis_url, unique) as stack:
        assert (await stack.send(f"evt_{unique}")).status_code == 202
        assert (await stack.send(f"evt_{unique}")).status_code == 202  # the provider's retry: a duplicate
        assert (await stack.send(f"evt_{unique}_forged", secret="guess")).status_code == 401
        deadline = time.monotonic() + 30
        while True:
            receiver_text, consumer_text = await stack.scrape()
            if sample_value(consumer_text, "webhooks_processed_total", outcome="duplicate") == 1:
                break
            if time.monotonic() > deadline:
                pytest.fail("the worker did not handle the event and its duplicate within 30 s")
            await asyncio.sleep(0.1)
        assert stack.handled == [f"evt_{unique}"]

    scraped = sample_names(receiver_text) | sample_names(consumer_text)
    missing = sorted(queried - scraped)
    assert missing == [], f"dashboard panels query metrics that neither process exposes: {missing}"
