"""Mailgun webhook payloads: `{"signature": {...}, "event-data": {"id", "event", "timestamp", ...}}`.

Reference: Mailgun docs, "Webhooks: payload" and "Events".
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class MailgunEventData(BaseModel):
    model_config = ConfigDict(extra="allow", frozen=True)

    id: str | None = None
    event: str
    timestamp: float | None = None


class MailgunWebhook(BaseModel):
    model_config = ConfigDict(extra="allow", frozen=True, populate_by_name=True)

    event_data: MailgunEventData = Field(alias="event-data")
