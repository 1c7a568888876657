"""Jira Cloud webhook payloads: `{"webhookEvent": "jira:issue_updated", "timestamp", "issue", ...}`.

Reference: Atlassian developer docs, "Jira Cloud webhooks: example callback".
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict


class JiraEvent(BaseModel):
    model_config = ConfigDict(extra="allow", frozen=True)

    webhookEvent: str
    timestamp: int | None = None
    issue: dict[str, Any] | None = None
    user: dict[str, Any] | None = None
    changelog: dict[str, Any] | None = None
