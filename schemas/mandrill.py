"""Mandrill (Mailchimp Transactional) webhook deliveries: a form whose `mandrill_events` field is a JSON
array of events (`send`, `open`, `click`, `hard_bounce`, ...), each with `event`, `_id`, `ts` and `msg`.

Reference: Mailchimp Transactional docs, "Webhooks" (event format).
"""

from __future__ import annotations

from pydantic import Json

from schemas.provider_model import ProviderModel


class MandrillEvent(ProviderModel):
    event: str
    ts: int | None = None


class MandrillDelivery(ProviderModel):
    mandrill_events: Json[list[MandrillEvent]]
