"""Lemon Squeezy webhook requests: `{"meta": {"event_name", "custom_data"}, "data": {JSON:API resource}}`.

Reference: Lemon Squeezy docs, "Webhook requests".
"""

from __future__ import annotations

from typing import Any

from schemas.provider_model import ProviderModel


class LemonSqueezyEvent(ProviderModel):
    meta: dict[str, Any]
    data: dict[str, Any] | None = None
