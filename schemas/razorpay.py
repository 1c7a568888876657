"""Razorpay webhook events: `{"entity": "event", "event", "contains", "payload", "created_at"}`.

Reference: Razorpay docs, "Webhooks: payloads".
"""

from __future__ import annotations

from typing import Any

from schemas.provider_model import ProviderModel


class RazorpayEvent(ProviderModel):
    event: str
    payload: dict[str, Any] | None = None
    created_at: int | None = None
