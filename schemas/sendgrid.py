"""SendGrid Event Webhook payloads: a JSON array of events (`processed`, `delivered`, `open`, ...).

Reference: Twilio SendGrid docs, "Event Webhook reference".
"""

from __future__ import annotations

from pydantic import RootModel

from schemas.provider_model import ProviderModel


class SendGridEvent(ProviderModel):
    event: str
    email: str | None = None
    timestamp: int | None = None
    sg_event_id: str | None = None
    sg_message_id: str | None = None


class SendGridBatch(RootModel[list[SendGridEvent]]):
    """The body of one SendGrid Event Webhook request."""
