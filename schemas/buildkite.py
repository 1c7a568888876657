"""Buildkite Pipelines webhooks: `{"event", "build" | "job" | "agent", "pipeline", "sender"}`.

Reference: Buildkite docs, "Pipelines webhooks" (build, job, agent and ping events).
"""

from __future__ import annotations

from typing import Any

from pydantic import Field

from schemas.provider_model import ProviderModel


class BuildkiteEvent(ProviderModel):
    """A Buildkite webhook event."""

    event: str = Field(min_length=1)
    build: dict[str, Any] | None = None
    pipeline: dict[str, Any] | None = None
    sender: dict[str, Any] | None = None
