"""Zoom webhook events: `{"event", "event_ts" (unix ms), "payload": {"account_id", "object"}}`.

Reference: Zoom developer docs, "Using webhooks" (event payloads).
"""

from __future__ import annotations

from typing import Any

from schemas.provider_model import ProviderModel


class ZoomEvent(ProviderModel):
    event: str
    event_ts: int | None = None
    payload: dict[str, Any] | None = None
