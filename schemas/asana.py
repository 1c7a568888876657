"""Asana webhook deliveries: `{"events": [{"action", "resource", "parent", "change", "created_at", "user"}]}`.

Reference: Asana developers, "Webhooks guide" (event payloads).
"""

from __future__ import annotations

from typing import Any

from schemas.provider_model import ProviderModel


class AsanaEvents(ProviderModel):
    events: list[dict[str, Any]]
