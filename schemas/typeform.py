"""Typeform webhook payloads: `{"event_id", "event_type": "form_response", "form_response": {...}}`.

Reference: Typeform developer docs, "Webhooks: example payload".
"""

from __future__ import annotations

from typing import Any

from schemas.provider_model import ProviderModel


class TypeformEvent(ProviderModel):
    event_id: str
    event_type: str
    form_response: dict[str, Any] | None = None
