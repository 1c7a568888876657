"""Intercom webhook payloads: a notification `{"type": "notification_event", "id", "topic", "data"}`.

Reference: Intercom developer docs, "Webhooks: notification object".
"""

from __future__ import annotations

from typing import Any

from schemas.provider_model import ProviderModel


class IntercomNotification(ProviderModel):
    topic: str
    id: str | None = None
    type: str | None = None
    app_id: str | None = None
    created_at: int | None = None
    data: dict[str, Any] | None = None
