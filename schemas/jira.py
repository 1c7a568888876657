"""Jira Cloud webhook payloads: `{"webhookEvent": "jira:issue_updated", "timestamp", "issue", ...}`.

Reference: Atlassian developer docs, "Jira Cloud webhooks: example callback".
"""

from __future__ import annotations

from typing import Any

from schemas.provider_model import ProviderModel


class JiraEvent(ProviderModel):
    webhookEvent: str
    timestamp: int | None = None
    issue: dict[str, Any] | None = None
    user: dict[str, Any] | None = None
    changelog: dict[str, Any] | None = None
