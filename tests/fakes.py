"""In-memory stand-ins for the pure unit tests; integration tests use the real Kafka and Redis, never these.

`RecordingPublisher` takes the place of the receiver's Kafka publisher (`receiver.publish.Publisher`): it
keeps what it was given, so a test can say what was published and that a refusal published nothing.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from receiver.errors import Unavailable


@dataclass
class RecordingPublisher:
    """Records `(topic, key, value, headers)` in order; `failing` makes it answer as a broker that is down."""

    records: list[tuple[str, bytes, bytes, Sequence[tuple[str, bytes]]]] = field(default_factory=list)
    failing: bool = False
    ready: bool = True

    async def start(self) -> None:
        return None

    async def stop(self) -> None:
        return None

    async def publish(self, topic: str, key: bytes, value: bytes, headers: Sequence[tuple[str, bytes]]) -> None:
        if self.failing:
            raise Unavailable("broker down")
        self.records.append((topic, key, value, headers))
