"""monday.com webhook events: `{"event": {"type", "boardId", "pulseId", "triggerTime", "triggerUuid", ...}}`.

Reference: monday.com developers, "Webhooks" (sample payloads).
"""

from __future__ import annotations

from typing import Any

from schemas.provider_model import ProviderModel


class MondayWebhook(ProviderModel):
    event: dict[str, Any]
