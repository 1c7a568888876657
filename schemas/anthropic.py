"""Anthropic webhook events: `{"type": "event", "id", "created_at", "data": {"type", "id", ...}}`.

The top-level `type` is always "event"; what happened is `data.type`. The payload is thin: fetch the
object by its id. Reference: Anthropic docs, "Webhooks" and the anthropic SDK's `beta.webhooks` types.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict


class AnthropicEventData(BaseModel):
    model_config = ConfigDict(extra="allow", frozen=True)

    type: str
    id: str | None = None


class AnthropicEvent(BaseModel):
    model_config = ConfigDict(extra="allow", frozen=True)

    type: str
    id: str | None = None
    created_at: Any = None
    data: AnthropicEventData
