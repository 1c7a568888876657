"""Zendesk event webhooks: `{"type": "zen:event-type:…", "id", "time", "subject", "account_id", "detail", "event"}`.

Reference: Zendesk developer docs, "Webhook event types".
"""

from __future__ import annotations

from typing import Any

from schemas.provider_model import ProviderModel


class ZendeskEvent(ProviderModel):
    type: str | None = None
    id: str | None = None
    detail: dict[str, Any] | None = None
