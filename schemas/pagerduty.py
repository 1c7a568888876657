"""PagerDuty v3 webhook payloads: `{"event": {"id", "event_type", "occurred_at", "resource_type", "data"}}`.

Reference: PagerDuty developer docs, "Webhooks v3 overview" (event payload).
"""

from __future__ import annotations

from typing import Any

from pydantic import Field

from schemas.provider_model import ProviderModel


class PagerDutyEventBody(ProviderModel):
    id: str = Field(min_length=1)
    event_type: str
    occurred_at: str | None = None
    resource_type: str | None = None
    data: Any = None


class PagerDutyWebhook(ProviderModel):
    event: PagerDutyEventBody
