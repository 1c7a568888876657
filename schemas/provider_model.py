"""What every provider's payload model shares: it names only the fields we read and keeps the rest.

`extra="allow"`: we don't own a provider's shape, so an event type or field the models don't know is still
accepted and passed on; `frozen`: a handler can't change the event another handler sees.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class ProviderModel(BaseModel):
    """The base of the provider payload models (`schemas/<provider>.py`)."""

    model_config = ConfigDict(extra="allow", frozen=True)
