"""Trello webhook deliveries: `{"action": {"id", "type", "date", "data"}, "model": {...}}`.

Reference: Trello developers, "Webhooks" (webhook payload: action and model).
"""

from __future__ import annotations

from typing import Any

from schemas.provider_model import ProviderModel


class TrelloWebhook(ProviderModel):
    action: dict[str, Any]
    model: dict[str, Any] | None = None
