"""Microsoft Teams outgoing webhook activities: a Bot Framework `message` activity.

Reference: Microsoft Learn, "Create outgoing webhooks" and the Bot Framework Activity schema.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict


class TeamsActivity(BaseModel):
    model_config = ConfigDict(extra="allow", frozen=True)

    type: str
    id: str | None = None
    text: str | None = None
    conversation: dict[str, Any] | None = None
