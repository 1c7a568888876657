"""Vercel webhook events: `{"id", "type", "createdAt" (unix ms), "payload"}`.

Reference: Vercel docs, "Webhooks API reference".
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict


class VercelEvent(BaseModel):
    model_config = ConfigDict(extra="allow", frozen=True)

    id: str
    type: str
    createdAt: int | None = None
    payload: dict[str, Any] | None = None
