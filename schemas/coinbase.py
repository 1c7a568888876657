"""Coinbase Commerce webhook deliveries: `{"id", "scheduled_for", "attempt_number", "event": {"id", "type", "data"}}`.

Reference: Coinbase Commerce docs, "Webhooks".
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict


class CoinbaseDelivery(BaseModel):
    model_config = ConfigDict(extra="allow", frozen=True)

    id: str | None = None
    event: dict[str, Any]
