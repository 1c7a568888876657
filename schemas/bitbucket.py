"""Bitbucket Cloud webhook payloads: `{"actor", "repository", <event fields>}` (the event is X-Event-Key).

Reference: Bitbucket Cloud docs, "Event payloads".
"""

from __future__ import annotations

from typing import Any

from schemas.provider_model import ProviderModel


class BitbucketEvent(ProviderModel):
    actor: dict[str, Any] | None = None
    repository: dict[str, Any] | None = None
