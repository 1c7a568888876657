"""ElevenLabs webhook events: `{"type", "event_timestamp", "data"}` (post-call transcription and audio).

Reference: ElevenLabs docs, "Post-call webhooks".
"""

from __future__ import annotations

from typing import Any

from schemas.provider_model import ProviderModel


class ElevenLabsEvent(ProviderModel):
    type: str
    event_timestamp: int | None = None
    data: dict[str, Any] | None = None
