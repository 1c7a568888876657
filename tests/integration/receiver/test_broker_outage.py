"""Kafka goes away and comes back: the receiver answers 503 in bounded time and recovers by itself.

This test runs a broker of its own (other tests keep the shared one), stops it and starts it again.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Any

import httpx
import orjson
import pytest
from prometheus_client import CollectorRegistry

from receiver.app import create_app
from receiver.publish.aiokafka import AiokafkaPublisher
from receiver.publish.rdkafka import RdkafkaPublisher
from receiver.settings import ReceiverSettings
from receiver.sources import Source
from receiver.verify import HmacScheme
from schemas import Envelope
from tests.integration.kafka_tools import read_topic, serving
from tests.integration.ports import OUTAGE_BROKER_PORTS
from tests.repository import stack
from tests.signing import hmac_headers

PUBLISH_TIMEOUT_MS = 1000


@pytest.fixture
async def own_broker(local_stack: tuple[str, str]) -> AsyncIterator[Any]:
    broker = stack.Broker(port=OUTAGE_BROKER_PORTS[0], controller_port=OUTAGE_BROKER_PORTS[1], name="kafka-outage-test")
    broker.stop(kill=True)
    broker.wipe()
    yield broker
    await asyncio.to_thread(broker.stop)
    broker.wipe()


async def post(http: httpx.AsyncClient, event_id: str) -> httpx.Response:
    body = orjson.dumps({"id": event_id, "type": "outage.test"})
    return await http.post("/webhooks/hmac", content=body, headers=hmac_headers(body, "k"))


async def eventually_accepted(http: httpx.AsyncClient, event_id: str, timeout_s: float = 60.0) -> int:
    """Retry like a provider would until a 202; returns how many tries it took."""
    deadline = time.monotonic() + timeout_s
    tries = 0
    while time.monotonic() < deadline:
        tries += 1
        response = await post(http, event_id)
        if response.status_code == 202:
            return tries
        assert response.status_code == 503, response.text
        await asyncio.sleep(0.5)
    raise AssertionError(f"{event_id} not accepted within {timeout_s}s")


@pytest.mark.parametrize("publisher_class", [RdkafkaPublisher, AiokafkaPublisher])
async def test_receiver_rides_out_a_broker_outage(
    own_broker: Any,  # a compose/local/stack.py Broker (loaded from its path, so untyped here)
    unique: str,
    publisher_class: type[RdkafkaPublisher | AiokafkaPublisher],
) -> None:
    topic = f"it.{unique}.outage"
    settings = ReceiverSettings(
        kafka_bootstrap_servers=own_broker.bootstrap,
        kafka_topic_partitions=3,
        publish_timeout_ms=PUBLISH_TIMEOUT_MS,
        retry_after_s=3,
    )
    sources = {"hmac": Source("hmac", HmacScheme(), (b"k",), topic)}
    publisher = publisher_class(settings, {topic}, startup_wait_s=0.5)
    app = create_app(settings, sources=sources, publisher=publisher, registry=CollectorRegistry())
    accepted: list[str] = []

    async with serving(app) as url, httpx.AsyncClient(base_url=url, timeout=30) as http:
        # Started with no broker at all: alive, not ready, and webhooks get 503 rather than hanging.
        assert (await http.get("/healthz")).status_code == 200
        assert (await http.get("/readyz")).status_code == 503
        response = await post(http, f"{unique}-0")
        assert (response.status_code, response.headers["retry-after"]) == (503, "3")

        await asyncio.to_thread(own_broker.start)
        await eventually_accepted(http, f"{unique}-1")
        accepted.append(f"{unique}-1")
        assert (await http.get("/readyz")).status_code == 200

        # The broker goes down under a running receiver.
        await asyncio.to_thread(own_broker.stop)
        started = time.monotonic()
        response = await post(http, f"{unique}-2")
        elapsed_s = time.monotonic() - started
        assert (response.status_code, response.json()) == (503, {"error": "unavailable"})
        assert response.headers["retry-after"] == "3"
        assert elapsed_s < PUBLISH_TIMEOUT_MS / 1000 + 1.0, f"the 503 took {elapsed_s:.2f}s"

        # It comes back: the same receiver, never restarted, accepts again.
        await asyncio.to_thread(own_broker.start)
        await eventually_accepted(http, f"{unique}-3")
        accepted.append(f"{unique}-3")
        for n in range(4, 14):
            assert (await post(http, f"{unique}-{n}")).status_code == 202
            accepted.append(f"{unique}-{n}")

    records = await read_topic(own_broker.bootstrap, topic, expect=len(accepted))
    in_kafka = {Envelope.from_bytes(record.value).id for record in records}
    # Every 2xx is in Kafka. A 503'd event may be there too (the producer may still have delivered it):
    # at-least-once, which the consumers' idempotency turns into once.
    assert set(accepted) <= in_kafka
    assert in_kafka <= {f"{unique}-{n}" for n in range(14)}
