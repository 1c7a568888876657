"""Postmark webhook payloads: one record per delivery, its kind in `RecordType` (`Delivery`, `Bounce`,
`SpamComplaint`, `Open`, `Click`, `SubscriptionChange`).

Reference: Postmark developer docs, "Webhooks overview" and the per-kind webhook pages.
"""

from __future__ import annotations

from pydantic import Field

from schemas.provider_model import ProviderModel


class PostmarkRecord(ProviderModel):
    record_type: str = Field(alias="RecordType")
    message_id: str | None = Field(default=None, alias="MessageID")
    recipient: str | None = Field(default=None, alias="Recipient")
