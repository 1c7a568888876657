"""Twitter/X Account Activity deliveries: `{"for_user_id", <kind>_events: [...]}`.

Reference: X developer docs, Account Activity API, "Account Activity data objects".
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class TwitterActivity(BaseModel):
    model_config = ConfigDict(extra="allow", frozen=True)

    for_user_id: str | None = None
