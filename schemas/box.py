"""Box webhook events: `{"type": "webhook_event", "id", "created_at", "trigger", "webhook", "source"}`.

Reference: Box developer docs, "Webhooks v2: payloads".
"""

from __future__ import annotations

from typing import Any

from schemas.provider_model import ProviderModel


class BoxEvent(ProviderModel):
    id: str
    trigger: str
    source: dict[str, Any] | None = None
