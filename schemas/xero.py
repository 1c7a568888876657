"""Xero webhook deliveries: `{"events": [...], "firstEventSequence", "lastEventSequence", "entropy"}`.

Reference: Xero developer docs, "Webhooks" (payload).
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict


class XeroWebhook(BaseModel):
    model_config = ConfigDict(extra="allow", frozen=True)

    events: list[dict[str, Any]]
    firstEventSequence: int | None = None
    lastEventSequence: int | None = None
