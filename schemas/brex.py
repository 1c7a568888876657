"""Brex webhooks: `{"event_type", ...}` with the fields of the event type (`expense_id`, `transfer_id`, ...).

Reference: Brex developer docs, "Webhooks" (event types and their payloads).
"""

from __future__ import annotations

from pydantic import Field

from schemas.provider_model import ProviderModel


class BrexEvent(ProviderModel):
    """A Brex webhook event."""

    event_type: str = Field(min_length=1)
    company_id: str | None = None
