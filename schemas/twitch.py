"""Twitch EventSub payloads: `{"subscription", "event"}` (a revocation has no `event`).

Reference: Twitch docs, "EventSub: Handling webhook events" (notification and revocation messages).
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict


class TwitchSubscription(BaseModel):
    model_config = ConfigDict(extra="allow", frozen=True)

    id: str | None = None
    type: str
    version: str | None = None
    status: str | None = None


class TwitchNotification(BaseModel):
    """An EventSub notification or revocation."""

    model_config = ConfigDict(extra="allow", frozen=True)

    subscription: TwitchSubscription
    event: dict[str, Any] | None = None
