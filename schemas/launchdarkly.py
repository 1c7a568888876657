"""LaunchDarkly webhooks: an audit log entry, `{"_id", "kind", "name", "description", "date", "accesses", ...}`.

Reference: LaunchDarkly docs, "Webhooks" (the payload is the audit log entry of the change).
"""

from __future__ import annotations

from typing import Any

from pydantic import Field

from schemas.provider_model import ProviderModel


class LaunchDarklyEntry(ProviderModel):
    """A LaunchDarkly audit log entry delivered by a webhook."""

    id: str = Field(alias="_id", min_length=1)
    kind: str = Field(min_length=1)
    date: int | None = None
    accesses: list[dict[str, Any]] | None = None
