"""HubSpot webhook payloads: a JSON array of up to 100 events.

Reference: HubSpot docs, "Webhooks API: event payloads".
"""

from __future__ import annotations

from pydantic import RootModel

from schemas.provider_model import ProviderModel


class HubSpotEvent(ProviderModel):
    eventId: int
    subscriptionType: str
    occurredAt: int | None = None
    portalId: int | None = None
    appId: int | None = None
    objectId: int | None = None
    attemptNumber: int | None = None
    propertyName: str | None = None
    propertyValue: str | None = None


class HubSpotBatch(RootModel[list[HubSpotEvent]]):
    """The body of one HubSpot webhook request."""
