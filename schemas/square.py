"""Square webhook payloads: `{"merchant_id", "type", "event_id", "created_at", "data"}`.

Reference: Square docs, "Webhooks: event notification payload".
"""

from __future__ import annotations

from typing import Any

from pydantic import Field

from schemas.provider_model import ProviderModel


class SquareEvent(ProviderModel):
    event_id: str = Field(min_length=1)
    type: str
    merchant_id: str | None = None
    created_at: str | None = None
    data: dict[str, Any] | None = None
