"""Which Pydantic model validates which provider's payload.

An unknown provider (a custom one) has no model: its payloads pass as plain JSON.
"""

from __future__ import annotations

from pydantic import BaseModel

from schemas.github import GitHubEvent
from schemas.hmac import HmacEvent
from schemas.stripe import StripeEvent

PAYLOAD_MODELS: dict[str, type[BaseModel]] = {
    "github": GitHubEvent,
    "hmac": HmacEvent,
    "stripe": StripeEvent,
}


def payload_model(provider: str) -> type[BaseModel] | None:
    """The payload model of a provider, or None where we don't know its shape."""
    return PAYLOAD_MODELS.get(provider)
