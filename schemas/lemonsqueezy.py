"""Lemon Squeezy webhook requests: `{"meta": {"event_name", "custom_data"}, "data": {JSON:API resource}}`.

Reference: Lemon Squeezy docs, "Webhook requests".
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict


class LemonSqueezyEvent(BaseModel):
    model_config = ConfigDict(extra="allow", frozen=True)

    meta: dict[str, Any]
    data: dict[str, Any] | None = None
