"""monday.com webhook events: `{"event": {"type", "boardId", "pulseId", "triggerTime", "triggerUuid", ...}}`.

Reference: monday.com developers, "Webhooks" (sample payloads).
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict


class MondayWebhook(BaseModel):
    model_config = ConfigDict(extra="allow", frozen=True)

    event: dict[str, Any]
