"""Notion webhook events: `{"id", "timestamp", "type", "entity", "data", ...}` (`page.created`,
`comment.created`, `data_source.schema_updated`, ...); the payload names what changed, not its content.

Reference: Notion developers, "Webhooks" (event types and delivery).
"""

from __future__ import annotations

from typing import Any

from schemas.provider_model import ProviderModel


class NotionEvent(ProviderModel):
    id: str
    timestamp: str
    type: str
    entity: dict[str, Any] | None = None
    data: dict[str, Any] | None = None
