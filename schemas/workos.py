"""WorkOS webhook events: `{"id", "event", "data", "created_at"}`.

Reference: WorkOS docs, "Events".
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict


class WorkOSEvent(BaseModel):
    model_config = ConfigDict(extra="allow", frozen=True)

    id: str
    event: str
    data: dict[str, Any] | None = None
