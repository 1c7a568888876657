"""Replicate webhooks: the prediction object, `{"id", "model", "version", "input", "output", "status", ...}`.

Reference: Replicate docs, "Webhooks" (the body is the prediction as the API returns it).
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class ReplicatePrediction(BaseModel):
    """A Replicate prediction, as its webhook sends it."""

    model_config = ConfigDict(extra="allow", frozen=True)

    id: str = Field(min_length=1)
    status: str = Field(min_length=1)
    model: str | None = None
    version: str | None = None
    input: dict[str, Any] | None = None
    output: Any = None
    error: Any = None
