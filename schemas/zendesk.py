"""Zendesk event webhooks: `{"type": "zen:event-type:…", "id", "time", "subject", "account_id", "detail", "event"}`.

Reference: Zendesk developer docs, "Webhook event types".
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict


class ZendeskEvent(BaseModel):
    model_config = ConfigDict(extra="allow", frozen=True)

    type: str | None = None
    id: str | None = None
    detail: dict[str, Any] | None = None
