"""The envelope read without its payload: what a consumer needs of most records, at a fraction of the cost.

`read_envelope` checks a record's value against every rule of `Envelope` (version, ids, times, headers, tenant, no
other field, and that the payload is JSON) but leaves the payload's JSON unparsed: `RawEnvelope.payload` is its
bytes, parsed when a reader asks (`parsed_payload`) and never validated here. For a 10 KB GitHub body that is ~7 µs
against ~34 µs for `Envelope.from_bytes`, which builds the payload's whole object tree.

The rules are `Envelope`'s, not a copy of them: a value msgspec refuses (or one it could read differently) is
handed to `Envelope.from_bytes`, which accepts it (then the event is read the slow way) or refuses it with
pydantic's own words. `tests/unit/schemas/test_rawenvelope.py` holds the two readers to the same verdicts over a
corpus of valid and invalid envelopes. Only the consumers import this module (the receiver never needs msgspec).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

import msgspec
import pydantic_core
from pydantic import ValidationError
from pydantic_core import core_schema

from schemas.envelope import Envelope, scoped_id
from schemas.records import CLOUDEVENTS_JSON_MEDIA_TYPE, envelope_of

NonEmpty = Annotated[str, msgspec.Meta(min_length=1)]
# An aware datetime, checked by pydantic's own parser (`AwareDatetime`): msgspec's rounds nanoseconds, pydantic's
# truncates them, so the two would read one time two ways.
_AWARE = pydantic_core.SchemaValidator(core_schema.datetime_schema(tz_constraint="aware"))
# pydantic's JSON parser refuses nesting deeper than 200 (msgspec's goes further): a value with fewer opening
# brackets than that can't be nested that deep, one with more is read by `Envelope.from_bytes`.
_MAX_OPENINGS = 200


class RawEnvelope(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """An envelope whose fields are checked and whose payload is its JSON, unparsed.

    The attributes are `Envelope`'s, but `received_at` and `occurred_at` are the text of a valid aware time and
    `payload` the payload's JSON bytes.
    """

    id: NonEmpty
    source: NonEmpty
    provider: NonEmpty
    type: str
    received_at: str
    payload: msgspec.Raw
    version: Literal[1] = 1
    occurred_at: str | None = None
    headers: dict[str, str] = {}
    tenant: NonEmpty | None = None

    @property
    def scoped_id(self) -> str:
        """`Envelope.scoped_id`: `<tenant>/<id>` where it carries a tenant, else the id."""
        return scoped_id(self.id, self.tenant)

    def parsed_payload(self) -> Any:
        """The payload as plain JSON (dicts, lists, exact integers), as `Envelope.from_bytes` would hold it."""
        return pydantic_core.from_json(bytes(self.payload))

    def envelope(self, payload: Any) -> Envelope:
        """The `Envelope`, with `payload` (`parsed_payload()`) in place of the bytes."""
        fields = {field: getattr(self, field) for field in self.__struct_fields__}
        fields["payload"] = payload
        return Envelope.model_validate(fields)


_DECODER = msgspec.json.Decoder(RawEnvelope)


def _openings(value: bytes) -> int:
    # The opening brackets in the value. `bytes.count` looks at one byte at a time; `replace` finds each with memchr:
    # ~1 against ~7 µs for 10 KB.
    return 2 * len(value) - len(value.replace(b"[", b"")) - len(value.replace(b"{", b""))


def read_envelope(value: bytes, content_type: str | None = None) -> RawEnvelope | Envelope:
    """The envelope of a record's value: a `RawEnvelope`, or for the rare value only pydantic reads (a CloudEvent
    in structured mode, a time given as a number) the `Envelope` itself.

    Raises:
        pydantic.ValidationError: no valid envelope, in `Envelope.from_bytes`'s words.
    """
    if content_type != CLOUDEVENTS_JSON_MEDIA_TYPE and _openings(value) < _MAX_OPENINGS:
        try:
            # msgspec skips the payload's strings without checking their UTF-8: the whole value is checked here.
            if not value.isascii():
                value.decode()
            raw = _DECODER.decode(value)
            _AWARE.validate_python(raw.received_at)
            if raw.occurred_at is not None:
                _AWARE.validate_python(raw.occurred_at)
            return raw
        except (msgspec.MsgspecError, ValueError, ValidationError):
            pass  # pydantic's verdict, below
    return envelope_of(value, content_type)
