"""Brex webhooks: `{"event_type", ...}` with the fields of the event type (`expense_id`, `transfer_id`, ...).

Reference: Brex developer docs, "Webhooks" (event types and their payloads).
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class BrexEvent(BaseModel):
    """A Brex webhook event."""

    model_config = ConfigDict(extra="allow", frozen=True)

    event_type: str = Field(min_length=1)
    company_id: str | None = None
