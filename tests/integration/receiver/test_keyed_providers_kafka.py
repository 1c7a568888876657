"""Keyed providers through the real receiver process parts, the real broker and a real local HTTPS key host:
an SNS notification and a PayPal event land on their topics keyed by the providers' ids; while the key
host fails, a delivery is a 503 and nothing reaches Kafka; once it answers again, the provider's retry of
the very same delivery is accepted.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

import httpx
import orjson
import pytest
from prometheus_client import CollectorRegistry

from receiver.app import create_app
from receiver.settings import ReceiverSettings
from receiver.sources import Source
from receiver.verify import PayPalScheme, SnsScheme
from schemas import Envelope
from tests.integration.kafka_tools import read_topic, serving
from tests.keyed_signing import (
    AWS_KEY,
    PAYPAL_CERT_PATH,
    PAYPAL_EVENT,
    PAYPAL_KEY,
    SNS_CERT_PATH,
    SNS_TOPIC,
    WEBHOOK_ID,
    paypal_headers,
    sns_body,
    sns_headers,
)
from tests.keyserver import KeyServer, running_key_server, signing_certificate


@pytest.fixture
def key_server() -> Iterator[KeyServer]:
    yield from running_key_server()


async def test_keyed_deliveries_land_on_kafka_and_a_key_outage_is_retried(
    kafka_bootstrap: str, unique: str, key_server: KeyServer
) -> None:
    topics = {name: f"it.{unique}.{name}" for name in ("sns", "paypal")}
    fetcher = key_server.fetcher(timeout_s=1.0)
    sources = {
        "sns": Source("sns", SnsScheme(fetcher=fetcher), (SNS_TOPIC.encode(),), topics["sns"]),
        "paypal": Source("paypal", PayPalScheme(fetcher=fetcher), (WEBHOOK_ID.encode(),), topics["paypal"]),
    }
    settings = ReceiverSettings(kafka_bootstrap_servers=kafka_bootstrap, kafka_topic_partitions=3)
    app = create_app(settings, sources=sources, registry=CollectorRegistry())
    sns = sns_body(AWS_KEY, key_server.url(SNS_CERT_PATH))
    paypal = paypal_headers(PAYPAL_EVENT, PAYPAL_KEY, key_server.url(PAYPAL_CERT_PATH), WEBHOOK_ID)
    async with serving(app) as url, httpx.AsyncClient(base_url=url) as http:
        # The key host is down (500): the provider is told to retry, nothing is published.
        key_server.serve(SNS_CERT_PATH, b"down", status=500)
        key_server.serve(PAYPAL_CERT_PATH, b"down", status=500)
        for source, body, headers in (("sns", sns, sns_headers(sns)), ("paypal", PAYPAL_EVENT, paypal)):
            response = await http.post(f"/webhooks/{source}", content=body, headers=headers)
            assert (response.status_code, response.json()) == (503, {"error": "unavailable"}), source
            assert "retry-after" in response.headers
        # It is back: the same deliveries, retried, are accepted.
        key_server.serve(SNS_CERT_PATH, signing_certificate(AWS_KEY, "sns.amazonaws.com"))
        key_server.serve(PAYPAL_CERT_PATH, signing_certificate(PAYPAL_KEY, "messageverificationcerts.paypal.com"))
        for source, body, headers in (("sns", sns, sns_headers(sns)), ("paypal", PAYPAL_EVENT, paypal)):
            response = await http.post(f"/webhooks/{source}", content=body, headers=headers)
            assert response.status_code == 202, (source, response.text)
        metrics = (await http.get("/metrics")).text
    assert re.search(r'webhooks_received_total\{outcome="unavailable",provider="sns",source="sns"\} 1.0', metrics)

    [sns_record] = await read_topic(kafka_bootstrap, topics["sns"], expect=1)
    message_id = orjson.loads(sns)["MessageId"]
    assert (sns_record.key, sns_record.headers["webhook-type"]) == (message_id.encode(), b"Notification")
    assert Envelope.from_bytes(sns_record.value).payload["TopicArn"] == SNS_TOPIC
    [paypal_record] = await read_topic(kafka_bootstrap, topics["paypal"], expect=1)
    envelope = Envelope.from_bytes(paypal_record.value)
    assert (envelope.id, envelope.type) == ("WH-58D329510W468432D-8HN650336L201105X", "PAYMENT.CAPTURE.COMPLETED")
