"""Zoom webhook events: `{"event", "event_ts" (unix ms), "payload": {"account_id", "object"}}`.

Reference: Zoom developer docs, "Using webhooks" (event payloads).
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict


class ZoomEvent(BaseModel):
    model_config = ConfigDict(extra="allow", frozen=True)

    event: str
    event_ts: int | None = None
    payload: dict[str, Any] | None = None
