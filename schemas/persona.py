"""Persona webhook events: `{"data": {"type": "event", "id", "attributes": {"name", "payload", "created-at"}}}`.

Reference: Persona docs, "Webhooks".
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict


class PersonaEvent(BaseModel):
    model_config = ConfigDict(extra="allow", frozen=True)

    data: dict[str, Any]
