"""Trello webhook deliveries: `{"action": {"id", "type", "date", "data"}, "model": {...}}`.

Reference: Trello developers, "Webhooks" (webhook payload: action and model).
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict


class TrelloWebhook(BaseModel):
    model_config = ConfigDict(extra="allow", frozen=True)

    action: dict[str, Any]
    model: dict[str, Any] | None = None
