"""Vercel webhook events: `{"id", "type", "createdAt" (unix ms), "payload"}`.

Reference: Vercel docs, "Webhooks API reference".
"""

from __future__ import annotations

from typing import Any

from schemas.provider_model import ProviderModel


class VercelEvent(ProviderModel):
    id: str
    type: str
    createdAt: int | None = None
    payload: dict[str, Any] | None = None
