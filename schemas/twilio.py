"""Twilio payloads: a callback's form fields (strings), or an Event Streams JSON event.

Reference: Twilio docs, "Messaging webhooks" / "Voice webhooks" (request parameters) and "Event Streams".
"""

from __future__ import annotations

from schemas.provider_model import ProviderModel


class TwilioCallback(ProviderModel):
    """A Twilio status or inbound callback (form fields keep Twilio's capitalised names)."""

    AccountSid: str | None = None
    MessageSid: str | None = None
    MessageStatus: str | None = None
    SmsStatus: str | None = None
    CallSid: str | None = None
    CallStatus: str | None = None
    From: str | None = None
    To: str | None = None
    Body: str | None = None
    # Event Streams (CloudEvents over JSON).
    type: str | None = None
    id: str | None = None
