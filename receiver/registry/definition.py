"""One registry record: a source's definition as it is stored (key: the source id; value: this, as JSON).

Secrets are sealed (keyring.py): the record holds no secret in the clear, and nothing that reads a record
for display (`webhooks sources list`) opens them.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import Annotated, Literal

import orjson
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, model_validator

from receiver.metrics import REGISTRY_SOURCE_LABEL
from receiver.registry.keyring import Keyring
from receiver.sources import PublicUrl, Source, registry_source
from schemas.records import Mode

# A source id is one URL path segment (as a file source's name); a tenant name follows the same rule, so it
# holds no `/` (the consumers' idempotency keys read `<tenant>/<event id>`).
NAME_PATTERN = r"^[a-z0-9][a-z0-9_-]{0,63}$"
Name = Annotated[str, Field(pattern=NAME_PATTERN)]
# The most secrets a source holds at once: the current one and those still valid after rotations.
MAX_SECRETS = 5
# The highest rate a source may be given, events a second.
MAX_RATE_PER_S = 1_000_000
# The longest an old secret stays valid after a rotation or a capture: 90 days.
MAX_KEEP_OLD_S = 90 * 86_400


class SealedSecret(BaseModel):
    """A secret as stored: sealed, and, for one replaced by a rotation, when it stops being accepted."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    sealed: str = Field(min_length=1, max_length=16_384)
    expires_at: AwareDatetime | None = None
    # When a provider's handshake gave it (Asana, Notion), rather than a command.
    captured_at: AwareDatetime | None = None
    # Whether `webhooks sources reveal` showed it (once) to be pasted back at the provider (Notion).
    shown: bool | None = None

    def live(self, now: datetime) -> bool:
        return self.expires_at is None or self.expires_at > now


class Capture(BaseModel):
    """A source waiting for its provider's handshake to give it its secret (Asana's `X-Hook-Secret`, Notion's
    `verification_token`): set by `add --capture` or `capture`, cleared by the handshake that fills it. Until
    then a handshake can set the secret; after it, none can (docs/providers.md)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    armed_at: AwareDatetime
    # How long the secrets held before stay valid once the handshake has set a new one.
    keep_old_for_s: int = Field(0, ge=0, le=MAX_KEEP_OLD_S)


class SourceDefinition(BaseModel):
    """A source of the registry. The first secret is the newest; `webhooks_secret_matches_total{secret}` counts
    by this position."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    version: Literal[1] = 1
    id: Name
    tenant: Name | None = None
    provider: Name
    topic: Annotated[str, Field(pattern=r"^[A-Za-z0-9._-]{1,249}$")] | None = None
    public_url: PublicUrl | None = None
    cloudevents: Mode = "binary"
    enabled: bool = True
    rate_per_s: float | None = Field(None, gt=0, le=MAX_RATE_PER_S)
    # None only while a capture waits for the first secret.
    secrets: tuple[SealedSecret, ...] = Field(max_length=MAX_SECRETS)
    capture: Capture | None = None
    # Meta's `hub.verify_token`, sealed as the secrets are (bound to `verify_token_aad(id)`).
    verify_token: SealedSecret | None = None
    created_at: AwareDatetime
    updated_at: AwareDatetime

    @model_validator(mode="after")
    def _secret_or_capture(self) -> SourceDefinition:
        if not self.secrets and self.capture is None:
            raise ValueError("a source needs a secret, or a capture waiting for its provider's handshake")
        return self

    def captured(self, sealed: str, now: datetime) -> SourceDefinition:
        """This definition once a handshake gave it `sealed`: the new secret first, the live ones before it
        kept for the capture's window (then expiring), no capture waiting any more."""
        assert self.capture is not None
        until = now + timedelta(seconds=self.capture.keep_old_for_s)
        kept = [
            old.model_copy(update={"expires_at": min(old.expires_at or until, until)})
            for old in self.secrets
            if old.live(now) and self.capture.keep_old_for_s > 0
        ]
        new = SealedSecret(sealed=sealed, captured_at=now)
        secrets = (new, *kept)[:MAX_SECRETS]
        return self.model_copy(update={"secrets": secrets, "capture": None, "updated_at": now})

    def to_bytes(self) -> bytes:
        return orjson.dumps(self.model_dump(exclude_none=True), option=orjson.OPT_UTC_Z)

    @classmethod
    def from_bytes(cls, value: bytes) -> SourceDefinition:
        """Raises `pydantic.ValidationError` (which never echoes a sealed secret: `describe` drops inputs)."""
        return cls.model_validate_json(value)

    def next_expiry(self, now: datetime) -> datetime | None:
        """When the next of its live secrets expires, if one does."""
        return min((s.expires_at for s in self.secrets if s.expires_at is not None and s.live(now)), default=None)


def verify_token_aad(source_id: str) -> str:
    """What a verify token is sealed to: its source, and its place (an id holds no `/`), so a sealed secret
    copied into the verify token's place does not open there."""
    return f"{source_id}/verify-token"


# What keeps a captured secret (the follower's): the definition waiting for it, and the secret.
KeepCaptured = Callable[[SourceDefinition, bytes], Awaitable[None]]


def build_source(
    definition: SourceDefinition,
    keyring: Keyring,
    *,
    now: datetime,
    tolerance_s: int,
    labelled_tenants: frozenset[str] = frozenset(),
    keep_captured: KeepCaptured | None = None,
) -> Source | None:
    """The source the receiver serves for a definition: None while it is disabled or has no live secret
    (unless a capture waits for its handshake).

    Raises:
        SealError: a secret does not open with these master keys.
        ConfigError: the definition names what this receiver does not know (a provider of a newer version).
    """
    if not definition.enabled:
        return None
    secrets = tuple(keyring.open(s.sealed, definition.id) for s in definition.secrets if s.live(now))
    if not secrets:
        if definition.capture is None:
            return None
        # Waiting for the handshake's secret, with none yet: a random one nobody holds, so that every
        # delivery is refused (401) until the handshake has set the real one.
        secrets = (os.urandom(32),)
    sealed_token = definition.verify_token
    token = None if sealed_token is None else keyring.open(sealed_token.sealed, verify_token_aad(definition.id))
    tenant = definition.tenant
    keep = None
    if definition.capture is not None and keep_captured is not None:
        keep = functools.partial(keep_captured, definition)
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
        verify_token=token,
        keep_captured=keep,
    )
