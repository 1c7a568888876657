"""Frame.io webhook payloads: `{"type", "resource": {"id", "type"}, "account", "workspace", "project",
"user"}`; only ids, no content.

Reference: Frame.io developer docs (V4), "Webhooks", webhook message payload.
"""

from __future__ import annotations

from typing import Any

from schemas.provider_model import ProviderModel


class FrameioEvent(ProviderModel):
    type: str
    resource: dict[str, Any]
    account: dict[str, Any] | None = None
