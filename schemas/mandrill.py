"""Mandrill (Mailchimp Transactional) webhook deliveries: a form whose `mandrill_events` field is a JSON
array of events (`send`, `open`, `click`, `hard_bounce`, ...), each with `event`, `_id`, `ts` and `msg`.

Reference: Mailchimp Transactional docs, "Webhooks" (event format).
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Json


class MandrillEvent(BaseModel):
    model_config = ConfigDict(extra="allow", frozen=True)

    event: str
    ts: int | None = None


class MandrillDelivery(BaseModel):
    model_config = ConfigDict(extra="allow", frozen=True)

    mandrill_events: Json[list[MandrillEvent]]
