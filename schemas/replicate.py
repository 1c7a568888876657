"""Replicate webhooks: the prediction object, `{"id", "model", "version", "input", "output", "status", ...}`.

Reference: Replicate docs, "Webhooks" (the body is the prediction as the API returns it).
"""

from __future__ import annotations

from typing import Any

from pydantic import Field

from schemas.provider_model import ProviderModel


class ReplicatePrediction(ProviderModel):
    """A Replicate prediction, as its webhook sends it."""

    id: str = Field(min_length=1)
    status: str = Field(min_length=1)
    model: str | None = None
    version: str | None = None
    input: dict[str, Any] | None = None
    output: Any = None
    error: Any = None
