"""New providers through the real broker: Slack (with its handshake), Paddle (a real entity sample),
Twilio (form fields parsed into the payload) and Discord (Ed25519): what Kafka holds afterwards.
"""

from __future__ import annotations

import time
from pathlib import Path

import httpx
import orjson
from prometheus_client import CollectorRegistry

from receiver.app import create_app
from receiver.settings import ReceiverSettings
from receiver.sources import Source
from receiver.verify import DiscordScheme, SlackScheme, TwilioScheme
from receiver.verify.providers import scheme_for
from schemas import Envelope
from schemas.paddle import PaddleNotification
from tests.integration.kafka_tools import read_topic, serving
from tests.signing import discord_headers, paddle_headers, slack_headers, twilio_headers
from tests.unit.receiver.verify.cases import DISCORD_KEY, discord_env

TWILIO_URL = "https://hooks.example.com/webhooks/twilio"


async def test_new_providers_land_on_their_topics_keyed_by_the_providers_ids(
    kafka_bootstrap: str, unique: str, samples: Path
) -> None:
    topics = {name: f"it.{unique}.{name}" for name in ("slack", "paddle", "twilio", "discord")}
    sources = {
        "slack": Source("slack", SlackScheme(), (b"slack-secret",), topics["slack"]),
        "paddle": Source(
            "paddle", scheme_for("paddle", tolerance_s=300), (b"pdl_ntfset_old", b"pdl_ntfset_new"), topics["paddle"]
        ),
        "twilio": Source("twilio", TwilioScheme(public_url=TWILIO_URL), (b"twilio-token",), topics["twilio"]),
        "discord": Source("discord", DiscordScheme(), (discord_env(DISCORD_KEY).encode(),), topics["discord"]),
    }
    settings = ReceiverSettings(kafka_bootstrap_servers=kafka_bootstrap, kafka_topic_partitions=3)
    slack_event = orjson.dumps(
        {
            "type": "event_callback",
            "event_id": f"Ev{unique}",
            "event_time": 1_795_000_000,
            "event": {"type": "app_mention"},
        }
    )
    slack_challenge = b'{"type":"url_verification","challenge":"c-123","token":"t"}'
    paddle_body = orjson.dumps(
        {
            "event_id": f"evt_{unique}",
            "event_type": "transaction.completed",
            "occurred_at": "2026-11-26T17:00:00.123456Z",
            "notification_id": f"ntf_{unique}",
            "data": orjson.loads((samples / "paddle" / "transaction.completed.json").read_bytes()),
        }
    )
    twilio_body = b"MessageSid=SM1&MessageStatus=delivered&Body=hello+there&To=%2B15551230000"
    discord_body = orjson.dumps({"id": f"i{unique}", "type": 2, "token": "tok", "data": {"name": "deploy"}})

    app = create_app(settings, sources=sources, registry=CollectorRegistry())
    async with serving(app) as url, httpx.AsyncClient(base_url=url) as http:
        handshake = await http.post(
            "/webhooks/slack", content=slack_challenge, headers=slack_headers(slack_challenge, "slack-secret")
        )
        assert (handshake.status_code, handshake.json()) == (200, {"challenge": "c-123"})
        sent = [
            ("slack", slack_event, slack_headers(slack_event, "slack-secret")),
            ("paddle", paddle_body, paddle_headers(paddle_body, "pdl_ntfset_new")),
            ("twilio", twilio_body, twilio_headers(TWILIO_URL, twilio_body, "twilio-token")),
            ("discord", discord_body, discord_headers(discord_body, DISCORD_KEY)),
        ]
        for source, body, headers in sent:
            response = await http.post(f"/webhooks/{source}", content=body, headers=headers)
            assert response.status_code == 202, (source, response.text)
        forged = await http.post(
            "/webhooks/paddle", content=paddle_body, headers=paddle_headers(paddle_body, "pdl_ntfset_other")
        )
        assert forged.status_code == 401
        stale = await http.post(
            "/webhooks/slack",
            content=slack_event,
            headers=slack_headers(slack_event, "slack-secret", int(time.time()) - 3600),
        )
        assert (stale.status_code, stale.json()) == (401, {"error": "stale_timestamp"})
        metrics = (await http.get("/metrics")).text
    assert 'webhooks_received_total{outcome="handshake",provider="slack",source="slack"} 1.0' in metrics
    assert 'webhooks_secret_matches_total{secret="1",source="paddle"} 1.0' in metrics
    assert 'webhooks_signature_failures_total{reason="bad_signature",source="paddle"} 1.0' in metrics

    [slack] = await read_topic(kafka_bootstrap, topics["slack"], expect=1)
    assert (slack.key, slack.headers["webhook-type"]) == (f"Ev{unique}".encode(), b"app_mention")
    [paddle] = await read_topic(kafka_bootstrap, topics["paddle"], expect=1)
    envelope = Envelope.from_bytes(paddle.value)
    assert (envelope.id, envelope.type) == (f"evt_{unique}", "transaction.completed")
    assert envelope.occurred_at is not None
    PaddleNotification.model_validate(envelope.payload)
    [twilio] = await read_topic(kafka_bootstrap, topics["twilio"], expect=1)
    twilio_envelope = Envelope.from_bytes(twilio.value)
    assert twilio_envelope.type == "message.delivered"
    assert twilio_envelope.payload["Body"] == "hello there"
    [discord] = await read_topic(kafka_bootstrap, topics["discord"], expect=1)
    assert (discord.key, discord.headers["webhook-type"]) == (f"i{unique}".encode(), b"interaction.application_command")
