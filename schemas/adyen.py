"""Adyen standard notifications: `{"live", "notificationItems": [{"NotificationRequestItem": {...}}]}`.

Reference: Adyen docs, "Webhook structure" (standard notification).
"""

from __future__ import annotations

from typing import Any

from schemas.provider_model import ProviderModel


class AdyenRequestItem(ProviderModel):
    pspReference: str
    eventCode: str
    success: str | None = None
    amount: dict[str, Any] | None = None


class AdyenItem(ProviderModel):
    NotificationRequestItem: AdyenRequestItem


class AdyenNotification(ProviderModel):
    live: str | None = None
    notificationItems: list[AdyenItem]
