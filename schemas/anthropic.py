"""Anthropic webhook events: `{"type": "event", "id", "created_at", "data": {"type", "id", ...}}`.

The top-level `type` is always "event"; what happened is `data.type`. The payload is thin: fetch the
object by its id. Reference: Anthropic docs, "Webhooks" and the anthropic SDK's `beta.webhooks` types.
"""

from __future__ import annotations

from typing import Any

from schemas.provider_model import ProviderModel


class AnthropicEventData(ProviderModel):
    type: str
    id: str | None = None


class AnthropicEvent(ProviderModel):
    type: str
    id: str | None = None
    created_at: Any = None
    data: AnthropicEventData
