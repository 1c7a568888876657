"""Calendly webhook payloads: `{"event": "invitee.created", "created_at", "created_by", "payload": {...}}`.

Reference: Calendly developer docs, "Webhook payload".
"""

from __future__ import annotations

from typing import Any

from schemas.provider_model import ProviderModel


class CalendlyEvent(ProviderModel):
    event: str
    created_at: str | None = None
    created_by: str | None = None
    payload: dict[str, Any] | None = None
