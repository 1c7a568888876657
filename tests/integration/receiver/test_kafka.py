"""The receiver against the real broker: what a sender sees, and what Kafka then holds."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Literal

import httpx
import orjson
import pytest
from aiokafka.partitioner import murmur2
from prometheus_client import CollectorRegistry

from receiver.app import create_app
from receiver.settings import ReceiverSettings
from receiver.sources import Source
from receiver.verify import GitHubScheme, HmacScheme, StripeScheme
from schemas import Envelope
from schemas.records import RecordFormat
from tests.integration.kafka_tools import read_topic, serving
from tests.integration.polling import eventually
from tests.repository import stack
from tests.signing import github_headers, hmac_headers, stripe_headers


def settings(bootstrap: str, client: Literal["librdkafka", "aiokafka"] = "librdkafka") -> ReceiverSettings:
    return ReceiverSettings(kafka_bootstrap_servers=bootstrap, kafka_topic_partitions=3, kafka_client=client)


@pytest.mark.parametrize("client", ["librdkafka", "aiokafka"])
async def test_signed_github_delivery_lands_on_its_topic_keyed_by_delivery_id(
    kafka_bootstrap: str, unique: str, samples: Path, client: Literal["librdkafka", "aiokafka"]
) -> None:
    topic = f"it.{unique}.github"
    sources = {"github": Source("github", GitHubScheme(), (b"gh-secret",), topic)}
    body = (samples / "github" / "issues" / "opened.payload.json").read_bytes()
    app = create_app(settings(kafka_bootstrap, client), sources=sources, registry=CollectorRegistry())
    async with serving(app) as url, httpx.AsyncClient(base_url=url) as http:
        response = await http.post(
            "/webhooks/github", content=body, headers=github_headers(body, "gh-secret", "issues", f"del-{unique}")
        )
        assert (response.status_code, response.json()) == (202, {"status": "accepted", "id": f"del-{unique}"})

    [record] = await read_topic(kafka_bootstrap, topic, expect=1)
    assert record.key == f"del-{unique}".encode()
    # Java-compatible key hashing, so a key lands where any other producer would put it.
    assert record.partition == (murmur2(record.key) & 0x7FFFFFFF) % 3
    envelope = Envelope.from_bytes(record.value)
    # The sample names its repository: the CloudEvents subject. GitHub gives no time: the receive time.
    expected = RecordFormat("github", "github").headers(
        id=f"del-{unique}", type="issues.opened", time=envelope.received_at, subject="Codertocat/Hello-World"
    )
    assert record.headers == dict(expected)
    assert record.headers["webhook-type"] == b"issues.opened"
    assert (envelope.id, envelope.source, envelope.provider, envelope.type) == (
        f"del-{unique}",
        "github",
        "github",
        "issues.opened",
    )
    assert envelope.payload == orjson.loads(body)
    assert envelope.headers["x-github-event"] == "issues"
    assert "x-hub-signature-256" not in envelope.headers
    assert abs(envelope.received_at.timestamp() - time.time()) < 60


async def test_forged_tampered_and_stale_requests_never_reach_kafka(kafka_bootstrap: str, unique: str) -> None:
    stripe_topic, hmac_topic = f"it.{unique}.stripe", f"it.{unique}.hmac"
    sources = {
        "stripe": Source("stripe", StripeScheme(tolerance_s=300), (b"whsec_real",), stripe_topic),
        "hmac": Source("hmac", HmacScheme(), (b"dev-secret",), hmac_topic),
    }
    event = orjson.dumps({"id": f"evt_{unique}", "object": "event", "type": "charge.succeeded", "created": 1})
    tampered = event.replace(b"charge.succeeded", b"charge.refunded")
    now = int(time.time())
    refused = [
        ("stripe", event, stripe_headers(event, "whsec_forged"), "invalid_signature"),
        ("stripe", tampered, stripe_headers(event, "whsec_real"), "invalid_signature"),
        ("stripe", event, stripe_headers(event, "whsec_real", timestamp=now - 3600), "stale_timestamp"),
        ("stripe", event, stripe_headers(event, "whsec_real", timestamp=now + 3600), "stale_timestamp"),
        ("stripe", event, {"stripe-signature": "t=,v1=%%%"}, "invalid_signature"),
        ("hmac", event, hmac_headers(event, "guess"), "invalid_signature"),
        ("hmac", event, {"content-type": "application/json"}, "invalid_signature"),
    ]
    app = create_app(settings(kafka_bootstrap), sources=sources, registry=CollectorRegistry())
    async with serving(app) as url, httpx.AsyncClient(base_url=url) as http:
        for source, body, headers, error in refused:
            response = await http.post(f"/webhooks/{source}", content=body, headers=headers)
            assert (response.status_code, response.json()) == (401, {"error": error}), (source, headers)
        # One genuine event after them, so an empty topic can't come from reading too early.
        response = await http.post("/webhooks/stripe", content=event, headers=stripe_headers(event, "whsec_real"))
        assert response.status_code == 202

    records = await read_topic(kafka_bootstrap, stripe_topic, expect=1)
    assert [Envelope.from_bytes(r.value).type for r in records] == ["charge.succeeded"]
    assert await read_topic(kafka_bootstrap, hmac_topic, expect=0, timeout_s=2) == []


def _log_bytes(topic: str) -> int:
    """The bytes of the topic's log segments on the local stack's broker: its record batches as stored."""
    broker, _ = stack.configured()
    return sum(segment.stat().st_size for segment in (broker.home / "data").glob(f"{topic}-*/*.log"))


@pytest.mark.parametrize("client", ["librdkafka", "aiokafka"])
@pytest.mark.parametrize("compression", ["lz4", "none"])
async def test_records_are_stored_compressed_as_kafka_compression_says(
    kafka_bootstrap: str, unique: str, samples: Path, client: Literal["librdkafka", "aiokafka"], compression: str
) -> None:
    topic = f"it.{unique}.github"
    sources = {"github": Source("github", GitHubScheme(), (b"gh-secret",), topic)}
    body = (samples / "github" / "issues" / "assigned.payload.json").read_bytes()
    options = ReceiverSettings(
        kafka_bootstrap_servers=kafka_bootstrap,
        kafka_client=client,
        kafka_compression=compression,
    )
    app = create_app(options, sources=sources, registry=CollectorRegistry())
    async with serving(app) as url, httpx.AsyncClient(base_url=url) as http:
        for n in range(20):
            headers = github_headers(body, "gh-secret", "issues", f"del-{unique}-{n}")
            assert (await http.post("/webhooks/github", content=body, headers=headers)).status_code == 202

    # Read back by an ordinary consumer, which decompresses.
    records = await read_topic(kafka_bootstrap, topic, expect=20)
    assert sorted(Envelope.from_bytes(record.value).id for record in records) == sorted(
        f"del-{unique}-{n}" for n in range(20)
    )
    values = sum(len(record.value) for record in records)
    stored = _log_bytes(topic)
    if compression == "none":
        assert stored > values
    else:
        # A GitHub body is JSON: lz4 keeps well under half of it.
        assert 0 < stored < values / 2


async def test_the_produce_requests_sent_are_counted_from_librdkafkas_statistics(
    kafka_bootstrap: str, unique: str, samples: Path
) -> None:
    topic = f"it.{unique}.github"
    sources = {"github": Source("github", GitHubScheme(), (b"gh-secret",), topic)}
    body = (samples / "github" / "issues" / "opened.payload.json").read_bytes()
    options = ReceiverSettings(kafka_bootstrap_servers=kafka_bootstrap, kafka_stats_interval_ms=100)
    registry = CollectorRegistry()
    app = create_app(options, sources=sources, registry=registry)

    def requests() -> float:
        return registry.get_sample_value("webhooks_kafka_produce_requests_total") or 0.0

    async with serving(app) as url, httpx.AsyncClient(base_url=url) as http:
        # One after the other, each waiting for its ack: a produce request each, never two records in one.
        for n in range(12):
            headers = github_headers(body, "gh-secret", "issues", f"del-{unique}-{n}")
            assert (await http.post("/webhooks/github", content=body, headers=headers)).status_code == 202
        await eventually(lambda: requests() >= 12, "the statistics of all 12 produce requests")
    # A request the producer retried would be counted again; none was dropped from the count.
    assert 12 <= requests() <= 14
