"""Razorpay webhook events: `{"entity": "event", "event", "contains", "payload", "created_at"}`.

Reference: Razorpay docs, "Webhooks: payloads".
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict


class RazorpayEvent(BaseModel):
    model_config = ConfigDict(extra="allow", frozen=True)

    event: str
    payload: dict[str, Any] | None = None
    created_at: int | None = None
