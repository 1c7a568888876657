"""`read_envelope` (msgspec, the payload left unparsed) and `Envelope.from_bytes` (pydantic) give the same verdict on
every value of a corpus of valid and invalid envelopes: both accept it, with the same fields and payload, or both
refuse it, with pydantic's words. Each value that should take the fast path does (a `RawEnvelope`)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
import pytest
from pydantic import ValidationError

from schemas.envelope import Envelope, encode_envelope
from schemas.rawenvelope import RawEnvelope, read_envelope
from schemas.records import CLOUDEVENTS_JSON_MEDIA_TYPE, RecordFormat

SAMPLES = Path(__file__).resolve().parents[2] / "samples"
RECEIVED = datetime(2026, 11, 30, 12, 0, 0, 123456, tzinfo=UTC)
BASE: dict[str, Any] = {
    "version": 1,
    "id": "evt_1",
    "source": "github",
    "provider": "github",
    "type": "push",
    "received_at": "2026-11-30T12:00:00.123456Z",
    "payload": {"action": "opened"},
    "headers": {"x-github-event": "push"},
}


def changed(**fields: Any) -> bytes:
    return orjson.dumps({**BASE, **fields})


def without(field: str) -> bytes:
    return orjson.dumps({key: value for key, value in BASE.items() if key != field})


def with_payload(payload_json: bytes) -> bytes:
    # The payload's exact bytes, as the receiver embeds them (`encode_envelope`).
    return changed(payload="@").replace(b'"@"', payload_json)


TIMES = [
    "2026-11-30T12:00:00Z",
    "2026-11-30T12:00:00+00:00",
    "2026-11-30T12:00:00-00:00",
    "2026-11-30T12:00:00.5+01:30",
    "2026-11-30T12:00:00.123456789Z",  # nanoseconds: read alike only if one parser reads both
    "2026-11-30 12:00:00Z",
    "2026-11-30t12:00:00z",
    "2026-11-30T12:00Z",
    "2026-11-30T23:59:60Z",
    "2026-11-30T12:00:00+0100",
    "2026-11-30T12:00:00,5Z",
    "0001-01-01T00:00:00Z",
    "2026-02-30T12:00:00Z",
    "2026-11-30T12:00:00",  # no zone
    "2026-11-30",
    "1700000000",
    1700000000,  # a number: pydantic reads it as epoch seconds
    1.7e9,
    "",
    None,
    True,
]
PAYLOADS = [
    b"null",
    b"[]",
    b'"text"',
    b"-0",
    b"1E400",
    b"123456789012345678901234567890",
    b'{"a":1,"a":2}',
    b'"caf\\u00e9 \xc3\xa9"',
    b'"\\ud800"',  # a lone surrogate
    b'"\xed\xa0\x80"',  # one encoded in UTF-8: not UTF-8
    b'"\xc0\xaf"',  # an overlong encoding
    b'"\xe2\x82"',  # a truncated sequence
    b'"\xff"',
    b'"a\nb"',
    b'"\\x41"',
    b"01",
    b"1.",
    b"+1",
    b"[1,]",
    b'{"a":1,}',
    b"'a'",
    b"NaN",
    b"-Infinity",
    b"tru",
    b"[1 2]",
    b"[" * 199 + b"]" * 199,
    b"[" * 200 + b"]" * 200,  # pydantic's parser goes 200 deep in all: the envelope's object and 199 more
    b"[" * 300 + b"]" * 300,
    b'"' + b"[" * 300 + b'"',  # brackets in a string: no nesting at all
]
HEADERS: list[object] = [{}, {"a": "b"}, {"a": 1}, {"a": None}, [], None, {"": ""}]
CORPUS: list[bytes] = [
    changed(),
    without("version"),
    without("headers"),
    without("type"),
    without("payload"),
    without("id"),
    without("received_at"),
    changed(extra=1),
    changed(version=2),
    changed(version=1.0),
    changed(version=True),
    changed(version="1"),
    *(changed(received_at=time) for time in TIMES),
    *(changed(occurred_at=time) for time in TIMES),
    *(changed(**{field: value}) for field in ("id", "source", "provider", "tenant") for value in ("", "x", 1, None)),
    changed(type=""),
    changed(type=None),
    *(changed(headers=headers) for headers in HEADERS),
    *(with_payload(payload) for payload in PAYLOADS),
    b'{"version":1,"id":"a","id":"b","source":"s","provider":"p","type":"t","received_at":"2026-11-30T12:00:00Z",'
    b'"payload":{}}',
    changed()[:-1] + b"} x",
    b" " + changed() + b"\n",
    b"\xef\xbb\xbf" + changed(),
    changed().replace(b'"evt_1"', b'"\xff"'),
    b"[]",
    b"",
    b"not json",
    b"\xff\xfe",
    b'{"version":1',
]
# Real bodies as the receiver publishes them: every provider sample of the repository's.
SAMPLE_BODIES = sorted(SAMPLES.rglob("*.json"))


def sample_envelope(path: Path, tenant: str | None) -> bytes:
    return encode_envelope(
        id=path.stem,
        source="samples",
        provider=path.relative_to(SAMPLES).parts[0],
        type=path.stem,
        received_at=RECEIVED,
        occurred_at=None,
        payload_json=orjson.dumps(orjson.loads(path.read_bytes())),
        headers={"user-agent": "sample"},
        tenant=tenant,
    )


def same(read: object, model: Envelope) -> bool:
    # Equal, or equal but for a NaN in the payload (never equal to itself).
    return read == model or repr(read) == repr(model)


def verdicts(value: bytes, content_type: str | None = None) -> tuple[object, object]:
    try:
        fast: object = read_envelope(value, content_type)
    except ValidationError as exc:
        fast = str(exc)
    try:
        model: object = Envelope.from_bytes(value) if content_type is None else None
    except ValidationError as exc:
        model = str(exc)
    return fast, model


@pytest.mark.parametrize("value", CORPUS, ids=range(len(CORPUS)))
def test_both_readers_accept_and_refuse_the_same_envelopes(value: bytes) -> None:
    fast, model = verdicts(value)
    if isinstance(model, str):
        assert fast == model  # refused by both, in pydantic's words
        return
    assert isinstance(model, Envelope)
    if isinstance(fast, RawEnvelope):
        assert same(fast.envelope(fast.parsed_payload()), model)
        assert fast.scoped_id == model.scoped_id
    else:
        assert same(fast, model)


@pytest.mark.parametrize("tenant", [None, "acme"])
def test_real_envelopes_take_the_fast_path_and_read_as_the_model_reads_them(tenant: str | None) -> None:
    slow = []
    for path in SAMPLE_BODIES:
        value = sample_envelope(path, tenant)
        fast, model = verdicts(value)
        assert isinstance(model, Envelope)
        if isinstance(fast, RawEnvelope):
            assert fast.envelope(fast.parsed_payload()) == model, path
            assert bytes(fast.payload) == orjson.dumps(orjson.loads(path.read_bytes()))
        else:
            assert fast == model
            slow.append(path.name)
    # Only a body with 200 opening brackets or more is left to the model (a stripe fixture file of 120 KB).
    assert len(SAMPLE_BODIES) > 300
    assert slow == ["fixtures3.json"]


def test_the_common_shapes_take_the_fast_path() -> None:
    fast = [changed(), without("headers"), changed(occurred_at="2026-11-30T11:59:00+01:00"), changed(tenant="acme")]
    slow = [changed(received_at=1700000000), with_payload(b"NaN"), with_payload(b"[" + b"[]," * 250 + b"[]]")]
    assert all(isinstance(read_envelope(value), RawEnvelope) for value in fast)
    assert not any(isinstance(read_envelope(value), RawEnvelope) for value in slow)


def test_a_cloudevent_in_structured_mode_is_read_by_the_model() -> None:
    envelope = changed()
    form = RecordFormat("github", "github", mode="structured")
    value = form.value(envelope, id="evt_1", type="push", time=Envelope.from_bytes(envelope).received_at)
    read = read_envelope(value, CLOUDEVENTS_JSON_MEDIA_TYPE)
    assert read == Envelope.from_bytes(envelope)
    with pytest.raises(ValidationError):
        read_envelope(envelope, CLOUDEVENTS_JSON_MEDIA_TYPE)
