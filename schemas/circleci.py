"""CircleCI outbound webhooks: `{"id", "type", "happened_at", "webhook", "project", "organization",
"pipeline", "workflow", "job"}`.

Reference: CircleCI docs, "Outbound webhooks" (common top-level keys, `workflow-completed`, `job-completed`).
"""

from __future__ import annotations

from typing import Any

from pydantic import AwareDatetime, Field

from schemas.provider_model import ProviderModel


class CircleCIEvent(ProviderModel):
    """A CircleCI webhook event."""

    id: str = Field(min_length=1)
    type: str = Field(min_length=1)
    happened_at: AwareDatetime | None = None
    webhook: dict[str, Any] | None = None
    project: dict[str, Any] | None = None
