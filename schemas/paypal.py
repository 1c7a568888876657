"""PayPal REST webhook events: `{"id", "event_version", "create_time", "resource_type", "event_type",
"summary", "resource", "links"}`.

Reference: PayPal docs, "Webhooks event names" and the `webhook_event` object of the Webhooks API;
`resource` is the object the event is about (a capture, an order, a subscription), kept whole.
"""

from __future__ import annotations

from typing import Any

from pydantic import AwareDatetime, Field

from schemas.provider_model import ProviderModel


class PayPalEvent(ProviderModel):
    """A PayPal webhook event notification."""

    id: str = Field(min_length=1)
    event_type: str = Field(min_length=1)
    create_time: AwareDatetime | None = None
    event_version: str | None = None
    resource_type: str | None = None
    resource_version: str | None = None
    summary: str | None = None
    resource: dict[str, Any] | None = None
    links: list[dict[str, Any]] | None = None
