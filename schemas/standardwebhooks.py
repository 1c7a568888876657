"""Standard Webhooks payloads (also Svix and Clerk): `{"type", "timestamp", "data"}`.

The specification recommends this shape without requiring it, so only `type` is expected, and even that
may be missing. Clerk sends `timestamp` as unix milliseconds and `object: "event"`.
Reference: the Standard Webhooks specification, "Payload structure"; Clerk docs, "Webhooks overview".
"""

from __future__ import annotations

from typing import Any

from schemas.provider_model import ProviderModel


class StandardWebhookEvent(ProviderModel):
    """A Standard Webhooks (Svix, Clerk) event."""

    type: str | None = None
    timestamp: str | int | None = None
    data: Any = None
