"""Coinbase Commerce webhook deliveries: `{"id", "scheduled_for", "attempt_number", "event": {"id", "type", "data"}}`.

Reference: Coinbase Commerce docs, "Webhooks".
"""

from __future__ import annotations

from typing import Any

from schemas.provider_model import ProviderModel


class CoinbaseDelivery(ProviderModel):
    id: str | None = None
    event: dict[str, Any]
