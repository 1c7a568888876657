"""Airtable webhook notification pings: `{"base": {"id"}, "webhook": {"id"}, "timestamp"}`.

Reference: Airtable Web API, "Webhooks overview".
"""

from __future__ import annotations

from typing import Any

from schemas.provider_model import ProviderModel


class AirtablePing(ProviderModel):
    base: dict[str, Any]
    webhook: dict[str, Any]
    timestamp: str | None = None
