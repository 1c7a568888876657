"""Twitch EventSub payloads: `{"subscription", "event"}` (a revocation has no `event`).

Reference: Twitch docs, "EventSub: Handling webhook events" (notification and revocation messages).
"""

from __future__ import annotations

from typing import Any

from schemas.provider_model import ProviderModel


class TwitchSubscription(ProviderModel):
    id: str | None = None
    type: str
    version: str | None = None
    status: str | None = None


class TwitchNotification(ProviderModel):
    """An EventSub notification or revocation."""

    subscription: TwitchSubscription
    event: dict[str, Any] | None = None
