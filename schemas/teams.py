"""Microsoft Teams outgoing webhook activities: a Bot Framework `message` activity.

Reference: Microsoft Learn, "Create outgoing webhooks" and the Bot Framework Activity schema.
"""

from __future__ import annotations

from typing import Any

from schemas.provider_model import ProviderModel


class TeamsActivity(ProviderModel):
    type: str
    id: str | None = None
    text: str | None = None
    conversation: dict[str, Any] | None = None
