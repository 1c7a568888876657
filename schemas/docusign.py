"""DocuSign Connect JSON notifications: `{"event", "apiVersion", "uri", "retryCount", "generatedDateTime", "data"}`.

Reference: DocuSign developers, Connect "JSON SIM event model".
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict


class DocuSignEvent(BaseModel):
    model_config = ConfigDict(extra="allow", frozen=True)

    event: str
    data: dict[str, Any] | None = None
