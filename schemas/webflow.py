"""Webflow webhooks: `{"triggerType", "payload"}`.

Reference: Webflow developers, "Working with webhooks" (form_submission, site_publish, collection_item_*, ...).
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class WebflowEvent(BaseModel):
    """A Webflow webhook event."""

    model_config = ConfigDict(extra="allow", frozen=True)

    triggerType: str = Field(min_length=1)
    payload: dict[str, Any]
