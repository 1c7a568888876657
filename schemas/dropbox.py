"""Dropbox webhook notifications: `{"list_folder": {"accounts": [...]}, "delta": {"users": [...]}}`.

A notification names the accounts whose files changed; the changes are fetched with the API.
Reference: Dropbox developers, "Webhooks" (notification requests).
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class DropboxAccounts(BaseModel):
    model_config = ConfigDict(extra="allow", frozen=True)

    accounts: list[str] = []


class DropboxNotification(BaseModel):
    model_config = ConfigDict(extra="allow", frozen=True)

    list_folder: DropboxAccounts | None = None
