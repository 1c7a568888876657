"""The envelope: one JSON shape for every provider's event, as published to Kafka.

The receiver writes it with `encode_envelope` (one `orjson.dumps`, the provider's body embedded as the
exact bytes it sent); consumers and downstream teams read it with `Envelope.from_bytes`. Both produce
and accept the same bytes, which a unit test holds.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any, Literal

import orjson
import pydantic_core
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

# Bumped only for a change a reader of version 1 can't ignore; readers reject versions they don't know.
ENVELOPE_VERSION: Literal[1] = 1

# RFC 3339 with a `Z` suffix for UTC, the form docs/contract.md gives for `received_at`.
_DUMPS_OPTIONS = orjson.OPT_UTC_Z


class Envelope(BaseModel):
    """One webhook event, normalized.

    Attributes:
        version: the envelope format version.
        id: the provider's event id (or a SHA-256 of source and body where it has none); the record key.
        source: the endpoint it came in on (`POST /webhooks/<source>`).
        provider: the signature scheme and payload family (`github`, `stripe`, `hmac`, ...).
        type: the provider's event type (`push`, `payment_intent.succeeded`, ...), `""` when it has none.
        received_at: when the receiver accepted it, UTC.
        occurred_at: when the provider says it happened, where it says.
        payload: the provider's JSON body (or its parsed form fields).
        headers: the provider headers worth keeping, lower-case names; never credentials.
        tenant: the tenant whose endpoint it came in on, for a source of the run-time registry that names one;
            absent otherwise (and then left out of the bytes, so events without one read as before).
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    version: Literal[1] = ENVELOPE_VERSION
    id: str = Field(min_length=1)
    source: str = Field(min_length=1)
    provider: str = Field(min_length=1)
    type: str
    received_at: AwareDatetime
    occurred_at: AwareDatetime | None = None
    payload: Any
    headers: dict[str, str] = Field(default_factory=dict)
    tenant: str | None = Field(None, min_length=1)

    @property
    def scoped_id(self) -> str:
        """What names the event for deduplication: `<tenant>/<id>` where it carries a tenant, else the id.

        Two tenants' events with one provider id are two events (tenant names hold no `/`).
        """
        return scoped_id(self.id, self.tenant)

    def to_bytes(self) -> bytes:
        """The envelope as compact JSON, as it is published."""
        return orjson.dumps(self.model_dump(exclude={"tenant"} if self.tenant is None else None), option=_DUMPS_OPTIONS)

    @classmethod
    def from_bytes(cls, data: bytes | str) -> Envelope:
        """Parse and validate a published envelope; raises `pydantic.ValidationError`."""
        try:
            # Parsed once into Python objects (exact integers, like the JSON mode), then validated: the payload
            # (`Any`) is taken as it is. Validating the JSON directly rebuilds the payload tree, at twice the cost.
            document = pydantic_core.from_json(data)
        except ValueError:
            return cls.model_validate_json(data)  # not JSON: let pydantic say so, as a ValidationError
        return cls.model_validate(document)


def scoped_id(id: str, tenant: str | None) -> str:
    """`Envelope.scoped_id` of an event with this id and tenant (also read off envelopes without the model)."""
    return id if tenant is None else f"{tenant}/{id}"


def encode_envelope(
    *,
    id: str,
    source: str,
    provider: str,
    type: str,
    received_at: datetime,
    occurred_at: datetime | None,
    payload_json: bytes,
    headers: Mapping[str, str],
    tenant: str | None = None,
) -> bytes:
    """Build the published bytes of an envelope without a model round trip (the receiver's hot path).

    Args:
        payload_json: the provider's body, already checked to be valid JSON; embedded byte for byte, so
            nothing in it is re-encoded or loses precision (large integers stay exact).
    """
    document: dict[str, object] = {
        "version": ENVELOPE_VERSION,
        "id": id,
        "source": source,
        "provider": provider,
        "type": type,
        "received_at": received_at,
        "occurred_at": occurred_at,
        "payload": orjson.Fragment(payload_json),
        "headers": headers,
    }
    if tenant is not None:
        document["tenant"] = tenant
    return orjson.dumps(document, option=_DUMPS_OPTIONS)
