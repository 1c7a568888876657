"""Google Cloud Pub/Sub push deliveries (wrapped): `{"message": {"data", "messageId", "publishTime",
"attributes", "orderingKey"}, "subscription", "deliveryAttempt"}`.

Reference: Pub/Sub docs, "Push subscriptions: receive messages" (`message.data` is base64; Pub/Sub sends
both `messageId` and `message_id`, and both spellings of `publishTime`).
"""

from __future__ import annotations

from pydantic import AwareDatetime, Field

from schemas.provider_model import ProviderModel


class PubSubMessage(ProviderModel):
    messageId: str = Field(min_length=1)
    data: str | None = None
    attributes: dict[str, str] | None = None
    publishTime: AwareDatetime | None = None
    orderingKey: str | None = None


class PubSubPush(ProviderModel):
    """One Pub/Sub push request."""

    message: PubSubMessage
    subscription: str = Field(min_length=1)
    deliveryAttempt: int | None = None
