"""Payloads of the generic HMAC scheme: any JSON the sender chooses.

Nothing is known of the sender's shape, so the model only documents the fields the receiver reads for
the event id (`id`, `idempotency_key`) and type (`type`, `event_type`) and keeps everything else.
"""

from __future__ import annotations

from schemas.provider_model import ProviderModel


class HmacEvent(ProviderModel):
    """A generic signed JSON object."""

    id: str | int | None = None
    idempotency_key: str | None = None
    type: str | None = None
    event_type: str | None = None
