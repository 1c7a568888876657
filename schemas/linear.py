"""Linear webhook payloads: `{"action", "type", "data", "createdAt", "webhookTimestamp", ...}`.

Reference: Linear docs, "Webhooks: the webhook payload".
"""

from __future__ import annotations

from typing import Any

from schemas.provider_model import ProviderModel


class LinearEvent(ProviderModel):
    action: str
    type: str
    data: Any = None
    createdAt: str | None = None
    url: str | None = None
    webhookTimestamp: int | None = None
    webhookId: str | None = None
