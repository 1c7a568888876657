"""Meta webhook payloads (WhatsApp, Messenger, Instagram, Facebook): `{"object", "entry": [...]}`.

Each entry holds `changes` (`{"field", "value"}`: WhatsApp, Instagram, Pages) or `messaging` (Messenger,
Instagram messaging) items. Reference: Meta for Developers, "Webhooks" and the WhatsApp Cloud API
"Webhooks payload examples".
"""

from __future__ import annotations

from typing import Any

from schemas.provider_model import ProviderModel


class MetaEntry(ProviderModel):
    id: str | None = None
    time: int | None = None
    changes: list[dict[str, Any]] | None = None
    messaging: list[dict[str, Any]] | None = None


class MetaNotification(ProviderModel):
    """One delivery of Meta's webhooks: a batch of entries for one object kind."""

    object: str
    entry: list[MetaEntry]
