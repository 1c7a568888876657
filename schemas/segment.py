"""Segment events as the Webhooks (Actions) destination posts them: a Segment message (`track`,
`identify`, `page`, `group`, `alias`) with its `messageId`.

Reference: Segment docs, "Spec: Common Fields" and "Webhooks (Actions) Destination".
"""

from __future__ import annotations

from typing import Any

from pydantic import Field

from schemas.provider_model import ProviderModel


class SegmentMessage(ProviderModel):
    message_id: str = Field(alias="messageId")
    type: str
    event: str | None = None
    timestamp: str | None = None
    properties: dict[str, Any] | None = None
