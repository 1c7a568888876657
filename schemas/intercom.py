"""Intercom webhook payloads: a notification `{"type": "notification_event", "id", "topic", "data"}`.

Reference: Intercom developer docs, "Webhooks: notification object".
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict


class IntercomNotification(BaseModel):
    model_config = ConfigDict(extra="allow", frozen=True)

    topic: str
    id: str | None = None
    type: str | None = None
    app_id: str | None = None
    created_at: int | None = None
    data: dict[str, Any] | None = None
