"""Gitea webhook payloads: GitHub-like bodies (the event is X-Gitea-Event).

Reference: Gitea docs, "Webhooks".
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict


class GiteaEvent(BaseModel):
    model_config = ConfigDict(extra="allow", frozen=True)

    repository: dict[str, Any] | None = None
