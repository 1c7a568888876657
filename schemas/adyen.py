"""Adyen standard notifications: `{"live", "notificationItems": [{"NotificationRequestItem": {...}}]}`.

Reference: Adyen docs, "Webhook structure" (standard notification).
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict


class AdyenRequestItem(BaseModel):
    model_config = ConfigDict(extra="allow", frozen=True)

    pspReference: str
    eventCode: str
    success: str | None = None
    amount: dict[str, Any] | None = None


class AdyenItem(BaseModel):
    model_config = ConfigDict(extra="allow", frozen=True)

    NotificationRequestItem: AdyenRequestItem


class AdyenNotification(BaseModel):
    model_config = ConfigDict(extra="allow", frozen=True)

    live: str | None = None
    notificationItems: list[AdyenItem]
