"""Resend webhook events: `{"type", "created_at", "data"}`.

Reference: Resend docs, "Webhooks: event types" (`email.sent`, `email.delivered`, `email.bounced`, ...).
"""

from __future__ import annotations

from typing import Any

from pydantic import AwareDatetime, Field

from schemas.provider_model import ProviderModel


class ResendEvent(ProviderModel):
    """A Resend webhook event."""

    type: str = Field(min_length=1)
    created_at: AwareDatetime | None = None
    data: dict[str, Any]
