"""Xero webhook deliveries: `{"events": [...], "firstEventSequence", "lastEventSequence", "entropy"}`.

Reference: Xero developer docs, "Webhooks" (payload).
"""

from __future__ import annotations

from typing import Any

from schemas.provider_model import ProviderModel


class XeroWebhook(ProviderModel):
    events: list[dict[str, Any]]
    firstEventSequence: int | None = None
    lastEventSequence: int | None = None
