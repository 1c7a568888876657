"""CloudEvents: structured mode `{"specversion", "id", "source", "type", "data", ...}`; in binary mode the
attributes are `ce-*` headers and the body (a JSON object) is the data itself, so no field is required.

Reference: CloudEvents specification 1.0 and its HTTP protocol binding.
"""

from __future__ import annotations

from typing import Any

from schemas.provider_model import ProviderModel


class CloudEvent(ProviderModel):
    specversion: str | None = None
    id: str | None = None
    source: str | None = None
    type: str | None = None
    data: Any = None
