"""GitLab webhook payloads: every event has an `object_kind` (`push`, `merge_request`, ...).

Reference: GitLab docs, "Webhook events".
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict


class GitLabEvent(BaseModel):
    model_config = ConfigDict(extra="allow", frozen=True)

    object_kind: str | None = None
    event_name: str | None = None
    project: dict[str, Any] | None = None
    object_attributes: dict[str, Any] | None = None
    user: dict[str, Any] | None = None
