"""OpenAI webhook events: `{"id": "evt_…", "object": "event", "created_at", "type", "data": {"id"}}`.

Reference: OpenAI platform docs, "Webhooks" (event payloads); the openai SDK's webhook event types.
"""

from __future__ import annotations

from typing import Any

from schemas.provider_model import ProviderModel


class OpenAIEvent(ProviderModel):
    id: str
    type: str
    created_at: int | None = None
    data: dict[str, Any] | None = None
