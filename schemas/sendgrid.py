"""SendGrid Event Webhook payloads: a JSON array of events (`processed`, `delivered`, `open`, ...).

Reference: Twilio SendGrid docs, "Event Webhook reference".
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, RootModel


class SendGridEvent(BaseModel):
    model_config = ConfigDict(extra="allow", frozen=True)

    event: str
    email: str | None = None
    timestamp: int | None = None
    sg_event_id: str | None = None
    sg_message_id: str | None = None


class SendGridBatch(RootModel[list[SendGridEvent]]):
    """The body of one SendGrid Event Webhook request."""
