"""Mux webhook events: `{"type", "id", "created_at", "object", "data"}`.

Reference: Mux docs, "Listen for webhooks".
"""

from __future__ import annotations

from typing import Any

from schemas.provider_model import ProviderModel


class MuxEvent(ProviderModel):
    type: str
    id: str
    created_at: str | None = None
    data: dict[str, Any] | None = None
