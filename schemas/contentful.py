"""Contentful webhook payloads: the entity the topic names (an Entry, Asset, ContentType, ...), with its
`sys` (type, id, space, environment, version, timestamps) and, for entries and assets, its `fields`.

Reference: Contentful docs, "Webhooks" (webhook payloads by topic).
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict


class ContentfulEntity(BaseModel):
    model_config = ConfigDict(extra="allow", frozen=True)

    sys: dict[str, Any]
    fields: dict[str, Any] | None = None
