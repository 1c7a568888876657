"""Twitter/X Account Activity deliveries: `{"for_user_id", <kind>_events: [...]}`.

Reference: X developer docs, Account Activity API, "Account Activity data objects".
"""

from __future__ import annotations

from schemas.provider_model import ProviderModel


class TwitterActivity(ProviderModel):
    for_user_id: str | None = None
