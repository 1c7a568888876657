"""Paddle Billing notifications: `{"event_id", "event_type", "occurred_at", "notification_id", "data"}`.

`data` is the entity the event is about (a transaction, subscription, customer, ...), kept whole.
Reference: Paddle docs, "Webhooks: notification payload"; the entity fixtures in `tests/samples/paddle`.
"""

from __future__ import annotations

from typing import Any

from pydantic import AwareDatetime, Field

from schemas.provider_model import ProviderModel


class PaddleNotification(ProviderModel):
    """A Paddle Billing webhook notification."""

    event_id: str = Field(min_length=1)
    event_type: str = Field(min_length=1)
    occurred_at: AwareDatetime
    notification_id: str | None = None
    data: dict[str, Any]
