"""WorkOS webhook events: `{"id", "event", "data", "created_at"}`.

Reference: WorkOS docs, "Events".
"""

from __future__ import annotations

from typing import Any

from schemas.provider_model import ProviderModel


class WorkOSEvent(ProviderModel):
    id: str
    event: str
    data: dict[str, Any] | None = None
