"""Airtable webhook notification pings: `{"base": {"id"}, "webhook": {"id"}, "timestamp"}`.

Reference: Airtable Web API, "Webhooks overview".
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict


class AirtablePing(BaseModel):
    model_config = ConfigDict(extra="allow", frozen=True)

    base: dict[str, Any]
    webhook: dict[str, Any]
    timestamp: str | None = None
