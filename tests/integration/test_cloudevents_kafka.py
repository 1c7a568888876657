"""Our records, as the real receiver and a real consumer group wrote them to the real broker, read back with
the `cloudevents` SDK's Kafka binding: every record we write is a CloudEvent 1.0 (binary mode by default,
structured mode where a source asks), its value still our envelope."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from functools import partial
from typing import Any

import httpx
import orjson
from cloudevents.core.base import BaseCloudEvent
from cloudevents.core.bindings import kafka as ce_kafka
from cloudevents.core.formats.json import JSONFormat
from cloudevents.v1 import kafka as ce_v1_kafka
from prometheus_client import CollectorRegistry

from consumers.handlers import Context, Event
from receiver.app import create_app
from receiver.settings import ReceiverSettings
from receiver.sources import Source
from receiver.verify import GitHubScheme, HmacScheme, StripeScheme
from schemas import Envelope
from tests.integration.kafka_tools import ReceiverFactory, Record, read_topic, serving
from tests.integration.polling import eventually
from tests.integration.workers import GroupFactory, Running, WorkerFactory
from tests.signing import github_headers, hmac_headers, stripe_headers

TRACEPARENT = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"


def binary(record: Record) -> BaseCloudEvent:
    return ce_kafka.from_binary(ce_kafka.KafkaMessage(record.headers, record.key, record.value), JSONFormat())


async def test_receiver_records_are_cloudevents_in_binary_and_structured_mode(
    kafka_bootstrap: str, unique: str
) -> None:
    github_topic, stripe_topic, structured_topic = (f"it.{unique}.{name}" for name in ("gh", "stripe", "ce"))
    sources = {
        "github": Source("github", GitHubScheme(), (b"gh",), github_topic),
        "stripe": Source("stripe", StripeScheme(tolerance_s=300), (b"whsec_s",), stripe_topic),
        "stripe-ce": Source("stripe-ce", StripeScheme(tolerance_s=300), (b"whsec_s",), structured_topic, "structured"),
    }
    github_body = orjson.dumps({"action": "opened", "repository": {"id": 1, "name": "api", "full_name": "acme/api"}})
    created = int(time.time()) - 5
    stripe_body = orjson.dumps(
        {
            "id": f"evt_{unique}",
            "type": "payment_intent.succeeded",
            "created": created,
            "data": {"object": {"id": "pi_7"}},
        },
    )
    app = create_app(
        ReceiverSettings(kafka_bootstrap_servers=kafka_bootstrap, kafka_topic_partitions=1),
        sources=sources,
        registry=CollectorRegistry(),
    )
    async with serving(app) as url, httpx.AsyncClient(base_url=url) as http:
        headers = {**github_headers(github_body, "gh", "pull_request", f"del-{unique}"), "traceparent": TRACEPARENT}
        assert (await http.post("/webhooks/github", content=github_body, headers=headers)).status_code == 202
        for source in ("stripe", "stripe-ce"):
            response = await http.post(
                f"/webhooks/{source}", content=stripe_body, headers=stripe_headers(stripe_body, "whsec_s")
            )
            assert response.status_code == 202

    [github] = await read_topic(kafka_bootstrap, github_topic, expect=1)
    event = binary(github)
    assert event.get_specversion() == "1.0"
    assert event.get_id() == f"del-{unique}"
    assert event.get_source() == "urn:webhooks:github"
    assert event.get_type() == "github.pull_request.opened"
    assert event.get_subject() == "acme/api"
    assert event.get_datacontenttype() == "application/json"
    assert event.get_extension("traceparent") == TRACEPARENT
    envelope = Envelope.from_bytes(github.value)
    # GitHub gives no time of its own: the CloudEvent's is the receive time.
    assert event.get_time() == envelope.received_at
    assert Envelope.model_validate(event.get_data()) == envelope
    assert github.headers["traceparent"] == TRACEPARENT.encode()
    # The SDK's older API (`cloudevents.kafka` of SDK 1.x, kept as `cloudevents.v1.kafka`) reads the same.
    legacy = ce_v1_kafka.from_binary(ce_v1_kafka.KafkaMessage(github.headers, github.key, github.value))
    assert (legacy["id"], legacy["type"], legacy["source"], legacy["subject"]) == (
        f"del-{unique}",
        "github.pull_request.opened",
        "urn:webhooks:github",
        "acme/api",
    )
    assert legacy.data == orjson.loads(github.value)

    [stripe] = await read_topic(kafka_bootstrap, stripe_topic, expect=1)
    event = binary(stripe)
    assert (event.get_id(), event.get_type(), event.get_subject()) == (
        f"evt_{unique}",
        "stripe.payment_intent.succeeded",
        "pi_7",
    )
    assert event.get_time() == datetime.fromtimestamp(created, UTC)  # Stripe's `created`
    assert event.get_extension("traceparent") is None

    [structured] = await read_topic(kafka_bootstrap, structured_topic, expect=1)
    event = ce_kafka.from_structured(
        ce_kafka.KafkaMessage(structured.headers, structured.key, structured.value), JSONFormat()
    )
    assert structured.headers["content-type"] == b"application/cloudevents+json"
    assert (event.get_id(), event.get_source(), event.get_type()) == (
        f"evt_{unique}",
        "urn:webhooks:stripe-ce",
        "stripe.payment_intent.succeeded",
    )
    assert Envelope.model_validate(event.get_data()).payload == orjson.loads(stripe_body)
    assert structured.key == f"evt_{unique}".encode()


def _settled(worker: Running) -> bool:
    return worker.outcome("dead_lettered") == 1


async def test_retry_and_dead_letter_records_are_the_same_cloudevent(
    consumer_group: GroupFactory, worker: WorkerFactory, receiver: ReceiverFactory, kafka_bootstrap: str
) -> None:
    consumers = await consumer_group(name="ce", consumer_max_attempts=2)
    route = consumers.topics
    topic = route.topic
    http = await receiver(Source("hmac", HmacScheme(), (b"k",), topic))

    async def always_fails(event: Event[Any], context: Context) -> None:
        raise RuntimeError("agent down")

    body = b'{"id":"evt-ce","type":"order.created"}'
    running, _ = await worker(consumers, always_fails)
    headers = {**hmac_headers(body, "k"), "traceparent": TRACEPARENT}
    assert (await http.post("/webhooks/hmac", content=body, headers=headers)).status_code == 202
    await eventually(partial(_settled, running), "the event dead-lettered")

    [original] = await read_topic(kafka_bootstrap, topic, expect=1)
    [retry] = await read_topic(kafka_bootstrap, route.retry_topic, expect=1)
    [dead] = await read_topic(kafka_bootstrap, route.dlq_topic, expect=1)
    first = binary(original)
    for record, attempt in ((retry, b"2"), (dead, b"2")):
        event = binary(record)
        assert event.get_attributes() == first.get_attributes()
        assert event.get_type() == "hmac.order.created"
        assert event.get_extension("traceparent") == TRACEPARENT
        assert record.headers["webhook-attempt"] == attempt
        assert record.headers["webhook-original-topic"] == topic.encode()
        assert record.value == original.value
