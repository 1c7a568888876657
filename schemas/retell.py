"""Retell AI webhook events: `{"event": "call_started" | "call_ended" | "call_analyzed", "call": {...}}`.

Reference: Retell AI docs, "Webhook" (event payloads).
"""

from __future__ import annotations

from typing import Any

from schemas.provider_model import ProviderModel


class RetellEvent(ProviderModel):
    event: str
    call: dict[str, Any] | None = None
