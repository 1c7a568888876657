"""`python -m receiver send` as a user runs it, against a real receiver and Kafka: every event lands once."""

from __future__ import annotations

import asyncio
import os
import sys
from dataclasses import replace

import orjson
import pytest
from prometheus_client import CollectorRegistry

from receiver.app import create_app
from receiver.settings import ReceiverSettings
from receiver.sources import load_sources
from schemas import Envelope
from tests.integration.kafka_tools import read_topic, serving
from tests.repository import ROOT

SECRETS = {
    "WEBHOOK_SECRET_HMAC": "cli-hmac",
    "WEBHOOK_SECRET_GITHUB": "cli-github",
    "WEBHOOK_SECRET_STRIPE": "whsec_cli",
}


async def run_send(*args: str) -> tuple[int, str, str]:
    clean = {key: value for key, value in os.environ.items() if not key.startswith(("WEBHOOK_", "RECEIVER_"))}
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "receiver",
        "send",
        *args,
        env={**clean, **SECRETS},
        cwd=ROOT,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), 60)
    assert process.returncode is not None
    return process.returncode, out.decode(), err.decode()


@pytest.mark.parametrize(
    ("source", "event_type"), [("hmac", "order.created"), ("github", "issues.opened"), ("stripe", "charge.refunded")]
)
async def test_send_posts_signed_events_that_reach_kafka(
    kafka_bootstrap: str, unique: str, source: str, event_type: str
) -> None:
    sources = {
        name: replace(found, topic=f"it.{unique}.{name}")
        for name, found in load_sources(SECRETS, sources_file=None, tolerance_s=300).items()
    }
    settings = ReceiverSettings(kafka_bootstrap_servers=kafka_bootstrap, kafka_topic_partitions=2)
    app = create_app(settings, sources=sources, registry=CollectorRegistry())
    async with serving(app) as url:
        code, out, err = await run_send(
            source, "--type", event_type, "--count", "3", "--url", f"{url}/webhooks/{source}"
        )
    assert (code, err) == (0, "")
    lines = out.splitlines()
    assert [line.split(" ", 1)[0] for line in lines] == ["202"] * 3
    ids = [orjson.loads(line.split(" ", 1)[1])["id"] for line in lines]
    assert len(set(ids)) == 3

    records = await read_topic(kafka_bootstrap, f"it.{unique}.{source}", expect=3)
    envelopes = [Envelope.from_bytes(record.value) for record in records]
    assert sorted(envelope.id for envelope in envelopes) == sorted(ids)
    assert {envelope.type for envelope in envelopes} == {event_type}


async def test_a_wrong_secret_is_refused_and_exits_1(kafka_bootstrap: str, unique: str) -> None:
    [hmac] = load_sources({"WEBHOOK_SECRET_HMAC": "the-real-one"}, sources_file=None, tolerance_s=300).values()
    sources = {"hmac": replace(hmac, topic=f"it.{unique}.hmac")}
    settings = ReceiverSettings(kafka_bootstrap_servers=kafka_bootstrap, kafka_topic_partitions=2)
    app = create_app(settings, sources=sources, registry=CollectorRegistry())
    async with serving(app) as url:
        code, out, _ = await run_send("hmac", "--url", f"{url}/webhooks/hmac")
    assert code == 1
    assert out.strip() == '401 {"error":"invalid_signature"}'
