"""Telnyx API v2 webhooks: `{"data": {"record_type": "event", "id", "event_type", "occurred_at", "payload"},
"meta": {"attempt", "delivered_to"}}`.

Reference: Telnyx docs, "Receiving webhooks" (the v2 envelope); `payload` depends on `event_type` and is kept whole.
"""

from __future__ import annotations

from typing import Any

from pydantic import AwareDatetime, Field

from schemas.provider_model import ProviderModel


class TelnyxEventData(ProviderModel):
    id: str = Field(min_length=1)
    event_type: str = Field(min_length=1)
    record_type: str | None = None
    occurred_at: AwareDatetime | None = None
    payload: dict[str, Any] | None = None


class TelnyxEvent(ProviderModel):
    """A Telnyx webhook delivery."""

    data: TelnyxEventData
    meta: dict[str, Any] | None = None
