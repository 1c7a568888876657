"""Mailgun webhook payloads: `{"signature": {...}, "event-data": {"id", "event", "timestamp", ...}}`.

Reference: Mailgun docs, "Webhooks: payload" and "Events".
"""

from __future__ import annotations

from pydantic import ConfigDict, Field

from schemas.provider_model import ProviderModel


class MailgunEventData(ProviderModel):
    id: str | None = None
    event: str
    timestamp: float | None = None


class MailgunWebhook(ProviderModel):
    model_config = ConfigDict(populate_by_name=True)

    event_data: MailgunEventData = Field(alias="event-data")
