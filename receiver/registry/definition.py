"""One registry record: a source's definition as it is stored (key: the source id; value: this, as JSON).

Secrets are sealed (keyring.py): the record holds no secret in the clear, and nothing that reads a record
for display (`webhooks sources list`) opens them.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

import orjson
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from receiver.metrics import REGISTRY_SOURCE_LABEL
from receiver.registry.keyring import Keyring
from receiver.sources import Source, registry_source
from schemas.records import Mode

# A source id is one URL path segment (as a file source's name); a tenant name follows the same rule, so it
# holds no `/` (the consumers' idempotency keys read `<tenant>/<event id>`).
NAME_PATTERN = r"^[a-z0-9][a-z0-9_-]{0,63}$"
Name = Annotated[str, Field(pattern=NAME_PATTERN)]
# The most secrets a source holds at once: the current one and those still valid after rotations.
MAX_SECRETS = 5
# The highest rate a source may be given, events a second.
MAX_RATE_PER_S = 1_000_000


class SealedSecret(BaseModel):
    """A secret as stored: sealed, and, for one replaced by a rotation, when it stops being accepted."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    sealed: str = Field(min_length=1, max_length=16_384)
    expires_at: AwareDatetime | None = None

    def live(self, now: datetime) -> bool:
        return self.expires_at is None or self.expires_at > now


class SourceDefinition(BaseModel):
    """A source of the registry. The first secret is the newest; `webhooks_secret_matches_total{secret}` counts
    by this position."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    version: Literal[1] = 1
    id: Name
    tenant: Name | None = None
    provider: Name
    topic: Annotated[str, Field(pattern=r"^[A-Za-z0-9._-]{1,249}$")] | None = None
    public_url: Annotated[str, Field(pattern=r"^https?://[^\s]{1,2000}$")] | None = None
    cloudevents: Mode = "binary"
    enabled: bool = True
    rate_per_s: float | None = Field(None, gt=0, le=MAX_RATE_PER_S)
    secrets: tuple[SealedSecret, ...] = Field(min_length=1, max_length=MAX_SECRETS)
    created_at: AwareDatetime
    updated_at: AwareDatetime

    def to_bytes(self) -> bytes:
        return orjson.dumps(self.model_dump(exclude_none=True), option=orjson.OPT_UTC_Z)

    @classmethod
    def from_bytes(cls, value: bytes) -> SourceDefinition:
        """Raises `pydantic.ValidationError` (which never echoes a sealed secret: `describe` drops inputs)."""
        return cls.model_validate_json(value)

    def next_expiry(self, now: datetime) -> datetime | None:
        """When the next of its live secrets expires, if one does."""
        return min((s.expires_at for s in self.secrets if s.expires_at is not None and s.live(now)), default=None)


def build_source(
    definition: SourceDefinition,
    keyring: Keyring,
    *,
    now: datetime,
    tolerance_s: int,
    labelled_tenants: frozenset[str] = frozenset(),
) -> Source | None:
    """The source the receiver serves for a definition: None while it is disabled or has no live secret.

    Raises:
        SealError: a secret does not open with these master keys.
        ConfigError: the definition names what this receiver does not know (a provider of a newer version).
    """
    if not definition.enabled:
        return None
    secrets = tuple(keyring.open(s.sealed, definition.id) for s in definition.secrets if s.live(now))
    if not secrets:
        return None
    tenant = definition.tenant
    return registry_source(
        definition.id,
        provider=definition.provider,
        secrets=secrets,
        tolerance_s=tolerance_s,
        tenant=tenant,
        topic=definition.topic,
        public_url=definition.public_url,
        cloudevents=definition.cloudevents,
        rate_per_s=definition.rate_per_s,
        metrics_label=tenant if tenant is not None and tenant in labelled_tenants else REGISTRY_SOURCE_LABEL,
    )
