"""TikTok for Developers webhook events: `{"client_key", "event", "create_time", "user_openid", "content"}`,
`content` being a serialized JSON string of the event's details.

Reference: TikTok for Developers, "Webhook Events".
"""

from __future__ import annotations

from schemas.provider_model import ProviderModel


class TikTokEvent(ProviderModel):
    client_key: str
    event: str
    create_time: int
    user_openid: str | None = None
    content: str | None = None
