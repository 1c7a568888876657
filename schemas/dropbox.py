"""Dropbox webhook notifications: `{"list_folder": {"accounts": [...]}, "delta": {"users": [...]}}`.

A notification names the accounts whose files changed; the changes are fetched with the API.
Reference: Dropbox developers, "Webhooks" (notification requests).
"""

from __future__ import annotations

from pydantic import Field

from schemas.provider_model import ProviderModel


class DropboxAccounts(ProviderModel):
    accounts: list[str] = Field(default=[])


class DropboxNotification(ProviderModel):
    list_folder: DropboxAccounts | None = None
