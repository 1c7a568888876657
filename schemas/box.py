"""Box webhook events: `{"type": "webhook_event", "id", "created_at", "trigger", "webhook", "source"}`.

Reference: Box developer docs, "Webhooks v2: payloads".
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict


class BoxEvent(BaseModel):
    model_config = ConfigDict(extra="allow", frozen=True)

    id: str
    trigger: str
    source: dict[str, Any] | None = None
