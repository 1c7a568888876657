"""Slack payloads: Events API callbacks, slash commands and interactions (all kept whole, `extra="allow"`).

A slash command's form fields arrive as strings; an interaction is the JSON of its `payload` field.
Reference: Slack docs, "Events API" (event_callback wrapper), "Slash commands", "Interactivity".
"""

from __future__ import annotations

from schemas.provider_model import ProviderModel


class SlackInnerEvent(ProviderModel):
    """`event` of an event_callback: the thing that happened (`app_mention`, `message`, ...)."""

    type: str
    event_ts: str | None = None
    user: str | None = None


class SlackEvent(ProviderModel):
    """Any Slack request body the receiver publishes."""

    type: str | None = None
    token: str | None = None
    team_id: str | None = None
    api_app_id: str | None = None
    event_id: str | None = None
    event_time: int | None = None
    event: SlackInnerEvent | None = None
    # Slash commands (form fields) and interactions.
    command: str | None = None
    text: str | None = None
    trigger_id: str | None = None
    response_url: str | None = None
