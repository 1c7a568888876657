"""Webflow webhooks: `{"triggerType", "payload"}`.

Reference: Webflow developers, "Working with webhooks" (form_submission, site_publish, collection_item_*, ...).
"""

from __future__ import annotations

from typing import Any

from pydantic import Field

from schemas.provider_model import ProviderModel


class WebflowEvent(ProviderModel):
    """A Webflow webhook event."""

    triggerType: str = Field(min_length=1)
    payload: dict[str, Any]
