"""Vonage webhooks (Messages API inbound messages and statuses): `{"channel", "message_uuid", "to", "from",
"timestamp", "message_type" | "status", ...}`.

Reference: Vonage developer docs, Messages API "Webhooks".
"""

from __future__ import annotations

from schemas.provider_model import ProviderModel


class VonageMessage(ProviderModel):
    channel: str | None = None
    message_uuid: str | None = None
    timestamp: str | None = None
