"""Postmark webhook payloads: one record per delivery, its kind in `RecordType` (`Delivery`, `Bounce`,
`SpamComplaint`, `Open`, `Click`, `SubscriptionChange`).

Reference: Postmark developer docs, "Webhooks overview" and the per-kind webhook pages.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class PostmarkRecord(BaseModel):
    model_config = ConfigDict(extra="allow", frozen=True)

    record_type: str = Field(alias="RecordType")
    message_id: str | None = Field(default=None, alias="MessageID")
    recipient: str | None = Field(default=None, alias="Recipient")
