"""Vapi server messages: `{"message": {"type", "timestamp", "call", ...}}` (end-of-call-report, status-update, ...).

Reference: Vapi docs, "Server events".
"""

from __future__ import annotations

from typing import Any

from schemas.provider_model import ProviderModel


class VapiMessage(ProviderModel):
    type: str
    call: dict[str, Any] | None = None


class VapiServerMessage(ProviderModel):
    message: VapiMessage
