"""Provider handshakes: answered synchronously, only once verified, counted as `handshake`, never published."""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest

from tests.signing import discord_headers, slack_headers, twitch_headers
from tests.unit.receiver.verify.cases import CASES, DISCORD_KEY, DISCORD_OTHER, Case, serving

SLACK = next(case for case in CASES if case.label == "slack-event")
DISCORD = next(case for case in CASES if case.label == "discord-interaction")
TWITCH = next(case for case in CASES if case.label == "twitch")

SLACK_CHALLENGE = b'{"token":"Jhj5dZrVaK7ZwHHjRyZWjbDl","challenge":"3eZbrw1aBm2rZgRNFdx","type":"url_verification"}'
DISCORD_PING = b'{"id":"1","application_id":"2","type":1,"token":"t","version":1}'
DISCORD_EVENT_PING = b'{"version":1,"application_id":"2","type":0}'
TWITCH_CHALLENGE = b'{"challenge":"pogchamp-kappa-360noscope-vohiyo","subscription":{"type":"channel.follow"}}'

# Headers are signed when the test runs, not at collection: a long run would otherwise age them past the window.
Signed = Callable[[], dict[str, str]]


def _slack(secret: str) -> dict[str, str]:
    return slack_headers(SLACK_CHALLENGE, secret)


def _twitch(secret: str) -> dict[str, str]:
    return twitch_headers(TWITCH_CHALLENGE, secret, "tw-1", message_type="webhook_callback_verification")


@pytest.mark.parametrize(
    ("case", "body", "headers", "status", "content_type", "answer"),
    [
        (
            SLACK,
            SLACK_CHALLENGE,
            lambda: _slack(SLACK.key),
            200,
            "application/json",
            b'{"challenge":"3eZbrw1aBm2rZgRNFdx"}',
        ),
        (
            DISCORD,
            DISCORD_PING,
            lambda: discord_headers(DISCORD_PING, DISCORD_KEY),
            200,
            "application/json",
            b'{"type":1}',
        ),
        (
            DISCORD,
            DISCORD_EVENT_PING,
            lambda: discord_headers(DISCORD_EVENT_PING, DISCORD_KEY),
            204,
            "application/json",
            b"",
        ),
        (
            TWITCH,
            TWITCH_CHALLENGE,
            lambda: _twitch(TWITCH.key),
            200,
            "text/plain; charset=utf-8",
            b"pogchamp-kappa-360noscope-vohiyo",
        ),
    ],
    ids=["slack-url-verification", "discord-interaction-ping", "discord-event-ping", "twitch-challenge"],
)
async def test_verified_handshake_is_answered_and_not_published(
    case: Case, body: bytes, headers: Signed, status: int, content_type: str, answer: bytes
) -> None:
    async with serving(case) as app:
        response = await app.http.post(f"/webhooks/{case.source}", content=body, headers=headers())
        assert (response.status_code, response.content) == (status, answer)
        if answer:
            assert response.headers["content-type"] == content_type
        assert app.publisher.records == []
        labels = {"source": case.source, "provider": case.source, "outcome": "handshake"}
        assert app.sample("webhooks_received_total", labels) == 1


@pytest.mark.parametrize(
    ("case", "body", "headers"),
    [
        (SLACK, SLACK_CHALLENGE, lambda: _slack("not-the-secret")),
        (SLACK, SLACK_CHALLENGE, lambda: {"content-type": "application/json"}),
        (DISCORD, DISCORD_PING, lambda: discord_headers(DISCORD_PING, DISCORD_OTHER)),
        (DISCORD, DISCORD_PING, lambda: discord_headers(DISCORD_PING, DISCORD_KEY, int(time.time()) - 3600)),
        (TWITCH, TWITCH_CHALLENGE, lambda: _twitch("not-the-secret")),
    ],
    ids=["slack-forged", "slack-unsigned", "discord-forged", "discord-stale", "twitch-forged"],
)
async def test_unverified_handshake_is_refused(case: Case, body: bytes, headers: Signed) -> None:
    # Answering an unverified challenge would let anyone register our endpoint for their app.
    async with serving(case) as app:
        response = await app.http.post(f"/webhooks/{case.source}", content=body, headers=headers())
        assert response.status_code == 401
        labels = {"source": case.source, "provider": case.source, "outcome": "handshake"}
        assert app.sample("webhooks_received_total", labels) == 0
