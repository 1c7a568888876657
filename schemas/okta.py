"""Okta event hook deliveries: `{"eventType": "com.okta.event_hook", "eventId", "eventTime", "data": {"events"}}`.

Reference: Okta developer docs, "Event hooks" (the request body).
"""

from __future__ import annotations

from typing import Any

from schemas.provider_model import ProviderModel


class OktaEvents(ProviderModel):
    events: list[dict[str, Any]]


class OktaEventHook(ProviderModel):
    eventType: str
    eventId: str
    eventTime: str | None = None
    data: OktaEvents
