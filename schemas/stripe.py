"""Stripe webhook payloads: the `event` object.

A Stripe webhook body is an Event whose `data.object` is the API resource it is about. Reference:
Stripe's API reference ("The Event object") and the `event` fixture in `tests/samples/stripe`.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from schemas.provider_model import ProviderModel


class StripeEventData(ProviderModel):
    """`data`: the resource as it is now, and what changed for `*.updated` events."""

    object: dict[str, Any]
    previous_attributes: dict[str, Any] | None = None


class StripeEvent(ProviderModel):
    """A Stripe Event as delivered to a webhook endpoint."""

    id: str = Field(min_length=1)
    object: Literal["event"]
    type: str = Field(min_length=1)
    created: int
    livemode: bool
    api_version: str | None = None
    data: StripeEventData
    pending_webhooks: int | None = None
    account: str | None = None
