"""Heroku app webhooks: `{"id", "action", "actor", "resource", "data", "created_at", "webhook_metadata"}`.

Reference: Heroku Dev Center, "App Webhooks" (the notification payload; `webhook_metadata.event.include` is
the entity, such as `api:release`).
"""

from __future__ import annotations

from typing import Any

from pydantic import AwareDatetime, Field

from schemas.provider_model import ProviderModel


class HerokuEvent(ProviderModel):
    """A Heroku app webhook notification."""

    id: str = Field(min_length=1)
    action: str | None = None
    resource: str | None = None
    created_at: AwareDatetime | None = None
    data: dict[str, Any] | None = None
    webhook_metadata: dict[str, Any] | None = None
