"""Persona webhook events: `{"data": {"type": "event", "id", "attributes": {"name", "payload", "created-at"}}}`.

Reference: Persona docs, "Webhooks".
"""

from __future__ import annotations

from typing import Any

from schemas.provider_model import ProviderModel


class PersonaEvent(ProviderModel):
    data: dict[str, Any]
