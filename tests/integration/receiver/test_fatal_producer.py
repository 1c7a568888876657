"""A fatal error of librdkafka's idempotent producer (after it, that producer takes no record again): the
receiver says not ready at once, refuses records (a 503 over HTTP), builds a new producer and is ready and
accepting again by itself.

librdkafka raises a fatal error only in states a healthy broker can't be driven into from Python (a producer
id fenced, an unrecoverable sequence gap), so the test hands the publisher the error exactly as librdkafka's
error callback hands it over; everything else is the real broker.
"""

from __future__ import annotations

import asyncio
import time

import httpx
import pytest
from confluent_kafka import KafkaError
from prometheus_client import CollectorRegistry

from receiver.app import create_app
from receiver.errors import Unavailable
from receiver.publish.rdkafka import RdkafkaPublisher
from receiver.settings import ReceiverSettings
from receiver.sources import Source
from receiver.verify import HmacScheme
from tests.integration.kafka_tools import read_topic, serving
from tests.signing import hmac_headers


async def test_a_fatal_producer_error_makes_the_receiver_not_ready_until_a_new_producer_is_built(
    kafka_bootstrap: str, unique: str
) -> None:
    topic = f"it.{unique}.hmac"
    settings = ReceiverSettings(kafka_bootstrap_servers=kafka_bootstrap, kafka_topic_partitions=1)
    publisher = RdkafkaPublisher(settings, [topic])
    sources = {"hmac": Source("hmac", HmacScheme(), (b"k",), topic)}
    app = create_app(settings, sources=sources, registry=CollectorRegistry(), publisher=publisher)

    def body(n: int) -> bytes:
        return f'{{"id": "evt_{unique}_{n}"}}'.encode()

    async with serving(app) as url, httpx.AsyncClient(base_url=url) as http:
        assert (await http.get("/readyz")).status_code == 200
        assert (
            await http.post("/webhooks/hmac", content=body(1), headers=hmac_headers(body(1), "k"))
        ).status_code == 202
        old = publisher._producer

        publisher._on_client_error(KafkaError(KafkaError._FATAL, "test: fatal idempotent producer error", fatal=True))
        # The new producer is built on the loop's next round (the error comes from a poll on the loop), so what
        # the receiver does meanwhile is asked before yielding to it: a publish fails without awaiting anything.
        not_ready = publisher.ready
        with pytest.raises(Unavailable):
            await publisher.publish(topic, b"evt_2", body(2), [])

        deadline = time.monotonic() + 15
        while (await http.get("/readyz")).status_code != 200:
            assert time.monotonic() < deadline, "the receiver did not become ready again"
            await asyncio.sleep(0.1)
        accepted = (await http.post("/webhooks/hmac", content=body(3), headers=hmac_headers(body(3), "k"))).status_code

    assert (not_ready, accepted) == (False, 202)
    assert publisher._producer is not old
    records = await read_topic(kafka_bootstrap, topic, expect=2)
    assert sorted(record.key for record in records) == [f"evt_{unique}_1".encode(), f"evt_{unique}_3".encode()]
