"""Microsoft Graph change notifications: `{"value": [{"subscriptionId", "clientState", "changeType",
"resource", "resourceData", "tenantId", "subscriptionExpirationDateTime"}]}` (lifecycle ones: `lifecycleEvent`).

Reference: Microsoft Graph docs, "changeNotificationCollection" and "changeNotification" resource types.
"""

from __future__ import annotations

from typing import Any

from schemas.provider_model import ProviderModel


class MsGraphChange(ProviderModel):
    subscriptionId: str | None = None
    changeType: str | None = None
    lifecycleEvent: str | None = None
    resource: str | None = None
    resourceData: dict[str, Any] | None = None


class MsGraphNotifications(ProviderModel):
    value: list[MsGraphChange]
