"""Gitea webhook payloads: GitHub-like bodies (the event is X-Gitea-Event).

Reference: Gitea docs, "Webhooks".
"""

from __future__ import annotations

from typing import Any

from schemas.provider_model import ProviderModel


class GiteaEvent(ProviderModel):
    repository: dict[str, Any] | None = None
