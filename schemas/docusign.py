"""DocuSign Connect JSON notifications: `{"event", "apiVersion", "uri", "retryCount", "generatedDateTime", "data"}`.

Reference: DocuSign developers, Connect "JSON SIM event model".
"""

from __future__ import annotations

from typing import Any

from schemas.provider_model import ProviderModel


class DocuSignEvent(ProviderModel):
    event: str
    data: dict[str, Any] | None = None
