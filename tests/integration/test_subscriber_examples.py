"""The subscriber's quick start (docs/subscribing.md) runs: each of its three programs, as the page shows it,
against a topic the real receiver wrote to on the real broker."""

from __future__ import annotations

import os
import re
import shutil
import sys

import httpx
import orjson
import pytest
from prometheus_client import CollectorRegistry

from receiver.app import create_app
from receiver.settings import ReceiverSettings
from receiver.sources import Source
from receiver.verify import StripeScheme
from tests.integration.kafka_tools import read_topic, serving
from tests.integration.processes import run_to_end
from tests.repository import ROOT
from tests.signing import stripe_headers

EXAMPLES = ROOT / "docs" / "examples"
PAGE = ROOT / "docs" / "subscribing.md"
NODE_MODULES = ROOT / "tests" / "asyncapi" / "node_modules"


@pytest.mark.parametrize("name", ["read_envelope.py", "read_cloudevents.py", "asyncapi_channels.cjs"])
def test_the_page_shows_each_program_as_it_is(name: str) -> None:
    blocks = re.findall(r"```(?:python|javascript)\n(.*?)```", PAGE.read_text(), flags=re.DOTALL)
    assert (EXAMPLES / name).read_text() in blocks


def _run(command: list[str], **env: str) -> str:
    done = run_to_end(command, {**os.environ, **env})
    assert done.returncode == 0, done.stderr
    return done.stdout


async def test_the_envelope_and_cloudevents_readers_read_what_the_receiver_wrote(
    kafka_bootstrap: str, unique: str
) -> None:
    topic = f"it.{unique}.stripe"
    app = create_app(
        ReceiverSettings(kafka_bootstrap_servers=kafka_bootstrap, kafka_topic_partitions=1),
        sources={"stripe": Source("stripe", StripeScheme(tolerance_s=300), (b"whsec_s",), topic)},
        registry=CollectorRegistry(),
    )
    body = orjson.dumps(
        {
            "id": f"evt_{unique}",
            "type": "payment_intent.succeeded",
            "created": 1764522259,
            "data": {"object": {"id": "pi_3"}},
        }
    )
    async with serving(app) as url, httpx.AsyncClient(base_url=url) as http:
        response = await http.post("/webhooks/stripe", content=body, headers=stripe_headers(body, "whsec_s"))
        assert response.status_code == 202
    await read_topic(kafka_bootstrap, topic, expect=1)
    env = {"KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap, "TOPIC": topic, "MAX_RECORDS": "1"}

    out = _run([sys.executable, str(EXAMPLES / "read_envelope.py")], GROUP=f"envelope-{unique}", **env)
    event_id, event_type, received_at, payload_id = out.split()
    assert (event_id, event_type, payload_id) == (f"evt_{unique}", "payment_intent.succeeded", f"evt_{unique}")
    assert received_at.endswith("Z")

    out = _run([sys.executable, str(EXAMPLES / "read_cloudevents.py")], GROUP=f"cloudevents-{unique}", **env)
    assert out.split() == [
        f"evt_{unique}",
        "stripe.payment_intent.succeeded",
        "urn:webhooks:stripe",
        "2025-11-30T17:04:19+00:00",
        "pi_3",
    ]


def test_the_asyncapi_reader_lists_a_providers_topics_headers_and_operations() -> None:
    node = shutil.which("node")
    if node is None or not NODE_MODULES.is_dir():
        pytest.fail("the AsyncAPI parser is missing: run `make node-deps` (needs Node 20+ and npm)")
    out = _run(
        [node, str(EXAMPLES / "asyncapi_channels.cjs"), "docs/asyncapi.json", "stripe"], NODE_PATH=str(NODE_MODULES)
    )
    lines = out.splitlines()
    assert [line.split(":")[0] for line in lines[:3]] == [
        "webhooks.stripe",
        "webhooks.stripe.{group}.retry",
        "webhooks.stripe.{group}.dlq",
    ]
    assert "ce_type" in lines[0]
    assert "webhook-id" in lines[0]
    assert "(key: The event id.)" in lines[0]
    assert "webhook-attempt" in lines[1]
    assert lines[3:] == [
        "send stripe.events.send",
        "receive stripe.events.receive",
        "receive stripe.retry.receive",
        "send stripe.retry.send",
        "send stripe.dlq.send",
    ]
