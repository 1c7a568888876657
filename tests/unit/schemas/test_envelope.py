from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import orjson
import pytest
from pydantic import ValidationError

from schemas import Envelope, encode_envelope

RECEIVED = datetime(2026, 11, 26, 12, 30, 15, 123456, tzinfo=UTC)


def test_receiver_bytes_equal_model_bytes() -> None:
    payload = {"id": "evt_1", "data": {"n": 1, "list": [1, 2]}}
    fields: dict[str, Any] = {
        "id": "evt_1",
        "source": "stripe",
        "provider": "stripe",
        "type": "charge.succeeded",
        "received_at": RECEIVED,
        "headers": {"user-agent": "Stripe/1.0"},
    }
    fast = encode_envelope(**fields, occurred_at=None, payload_json=orjson.dumps(payload))
    model = Envelope(**fields, payload=payload)
    assert fast == model.to_bytes()
    assert Envelope.from_bytes(fast) == model
    assert b'"received_at":"2026-11-26T12:30:15.123456Z"' in fast


def test_payload_bytes_are_embedded_exactly() -> None:
    # A 30-digit integer: orjson alone would turn it into a float; the envelope keeps the sender's digits.
    body = b'{"amount": 123456789012345678901234567890, "note": "caf\\u00e9"}'
    data = encode_envelope(
        id="x",
        source="hmac",
        provider="hmac",
        type="",
        received_at=RECEIVED,
        occurred_at=None,
        payload_json=body,
        headers={},
    )
    assert body in data
    assert Envelope.from_bytes(data).payload["amount"] == 123456789012345678901234567890


@pytest.mark.parametrize(
    "change",
    [{"version": 2}, {"id": ""}, {"received_at": "2026-11-26T12:00:00"}, {"unexpected": 1}],
)
def test_reader_refuses_what_it_does_not_know(change: dict[str, object]) -> None:
    document = {
        "version": 1,
        "id": "a",
        "source": "hmac",
        "provider": "hmac",
        "type": "",
        "received_at": "2026-11-26T12:00:00Z",
        "payload": {},
        "headers": {},
    }
    with pytest.raises(ValidationError):
        Envelope.from_bytes(orjson.dumps({**document, **change}))


@pytest.mark.parametrize("data", [b"", b"not json", b"\xff\xfe", b'{"version":1', b"[]"])
def test_bytes_that_are_not_an_envelope_raise_a_validation_error(data: bytes) -> None:
    with pytest.raises(ValidationError):
        Envelope.from_bytes(data)
