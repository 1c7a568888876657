"""GitLab webhook payloads: every event has an `object_kind` (`push`, `merge_request`, ...).

Reference: GitLab docs, "Webhook events".
"""

from __future__ import annotations

from typing import Any

from schemas.provider_model import ProviderModel


class GitLabEvent(ProviderModel):
    object_kind: str | None = None
    event_name: str | None = None
    project: dict[str, Any] | None = None
    object_attributes: dict[str, Any] | None = None
    user: dict[str, Any] | None = None
