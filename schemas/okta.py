"""Okta event hook deliveries: `{"eventType": "com.okta.event_hook", "eventId", "eventTime", "data": {"events"}}`.

Reference: Okta developer docs, "Event hooks" (the request body).
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict


class OktaEvents(BaseModel):
    model_config = ConfigDict(extra="allow", frozen=True)

    events: list[dict[str, Any]]


class OktaEventHook(BaseModel):
    model_config = ConfigDict(extra="allow", frozen=True)

    eventType: str
    eventId: str
    eventTime: str | None = None
    data: OktaEvents
