"""Asana webhook deliveries: `{"events": [{"action", "resource", "parent", "change", "created_at", "user"}]}`.

Reference: Asana developers, "Webhooks guide" (event payloads).
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict


class AsanaEvents(BaseModel):
    model_config = ConfigDict(extra="allow", frozen=True)

    events: list[dict[str, Any]]
