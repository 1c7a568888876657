"""Calendly webhook payloads: `{"event": "invitee.created", "created_at", "created_by", "payload": {...}}`.

Reference: Calendly developer docs, "Webhook payload".
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict


class CalendlyEvent(BaseModel):
    model_config = ConfigDict(extra="allow", frozen=True)

    event: str
    created_at: str | None = None
    created_by: str | None = None
    payload: dict[str, Any] | None = None
