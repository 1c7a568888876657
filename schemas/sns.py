"""Amazon SNS HTTP/S deliveries: the JSON message document SNS posts (as `text/plain`).

Reference: Amazon SNS developer guide, "HTTP/HTTPS notification JSON format" and "HTTP/HTTPS subscription
confirmation JSON format". `Message` is the published string (often JSON itself), kept as sent.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import AwareDatetime, Field

from schemas.provider_model import ProviderModel


class SnsMessage(ProviderModel):
    """An SNS notification (confirmations are answered by the receiver and never published)."""

    Type: Literal["Notification", "SubscriptionConfirmation", "UnsubscribeConfirmation"]
    MessageId: str = Field(min_length=1)
    TopicArn: str = Field(min_length=1)
    Message: str
    Timestamp: AwareDatetime
    Subject: str | None = None
    SignatureVersion: Literal["1", "2"]
    Signature: str
    SigningCertURL: str
    UnsubscribeURL: str | None = None
    MessageAttributes: dict[str, Any] | None = None
