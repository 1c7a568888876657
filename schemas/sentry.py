"""Sentry integration platform webhooks: `{"action", "installation", "data", "actor"}`.

The resource (issue, error, installation, ...) is the Sentry-Hook-Resource header.

Reference: Sentry docs, Integration Platform "Webhooks".
"""

from __future__ import annotations

from typing import Any

from schemas.provider_model import ProviderModel


class SentryWebhook(ProviderModel):
    action: str | None = None
    data: dict[str, Any] | None = None
