"""Discord payloads: interactions (slash commands, components) and webhook events.

Reference: Discord docs, "Interactions: Interaction Object" and "Webhook Events: Event Body Object".
"""

from __future__ import annotations

from typing import Any

from schemas.provider_model import ProviderModel


class DiscordWebhookEvent(ProviderModel):
    """`event` of a webhook event: `type` (`APPLICATION_AUTHORIZED`), `timestamp`, `data`."""

    type: str
    timestamp: str | None = None
    data: Any = None


class DiscordPayload(ProviderModel):
    """An interaction (it has `id` and `token`) or a webhook event (it has `event`)."""

    type: int
    id: str | None = None
    application_id: str | None = None
    token: str | None = None
    version: int | None = None
    data: Any = None
    event: DiscordWebhookEvent | None = None
