"""Plaid webhooks: `{"webhook_type", "webhook_code", "item_id", "environment", ...}`.

Reference: Plaid API reference, "Webhooks" (each product's webhooks share `webhook_type` and
`webhook_code`; the other fields depend on them and are kept).
"""

from __future__ import annotations

from typing import Any

from pydantic import Field

from schemas.provider_model import ProviderModel


class PlaidWebhook(ProviderModel):
    """A Plaid webhook."""

    webhook_type: str = Field(min_length=1)
    webhook_code: str = Field(min_length=1)
    item_id: str | None = None
    environment: str | None = None
    error: dict[str, Any] | None = None
