"""Contentful webhook payloads: the entity the topic names (an Entry, Asset, ContentType, ...), with its
`sys` (type, id, space, environment, version, timestamps) and, for entries and assets, its `fields`.

Reference: Contentful docs, "Webhooks" (webhook payloads by topic).
"""

from __future__ import annotations

from typing import Any

from schemas.provider_model import ProviderModel


class ContentfulEntity(ProviderModel):
    sys: dict[str, Any]
    fields: dict[str, Any] | None = None
