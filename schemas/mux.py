"""Mux webhook events: `{"type", "id", "created_at", "object", "data"}`.

Reference: Mux docs, "Listen for webhooks".
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict


class MuxEvent(BaseModel):
    model_config = ConfigDict(extra="allow", frozen=True)

    type: str
    id: str
    created_at: str | None = None
    data: dict[str, Any] | None = None
