"""Telegram Bot API updates: `{"update_id", <one kind>: {...}}` (message, callback_query, ...).

Reference: Telegram Bot API, "Update".
"""

from __future__ import annotations

from typing import Any

from schemas.provider_model import ProviderModel


class TelegramUpdate(ProviderModel):
    update_id: int
    message: dict[str, Any] | None = None
    callback_query: dict[str, Any] | None = None
