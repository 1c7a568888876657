"""Vapi server messages: `{"message": {"type", "timestamp", "call", ...}}` (end-of-call-report, status-update, ...).

Reference: Vapi docs, "Server events".
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict


class VapiMessage(BaseModel):
    model_config = ConfigDict(extra="allow", frozen=True)

    type: str
    call: dict[str, Any] | None = None


class VapiServerMessage(BaseModel):
    model_config = ConfigDict(extra="allow", frozen=True)

    message: VapiMessage
