"""The JSON log line: known fields only, never a payload passed by mistake."""

from __future__ import annotations

import logging

import orjson

from schemas.logline import JsonFormatter, TextFormatter


def record(**extra: object) -> logging.LogRecord:
    made = logging.LogRecord("receiver.requests", logging.INFO, __file__, 1, "webhook %s", ("accepted",), None)
    made.__dict__.update(extra)
    return made


def test_a_line_is_one_json_object_with_the_event_facts() -> None:
    line = JsonFormatter().format(record(event_id="evt_1", source="stripe", outcome="accepted", status=202))
    assert "\n" not in line
    parsed = orjson.loads(line)
    assert {key: parsed[key] for key in ("level", "logger", "msg", "event_id", "source", "outcome", "status")} == {
        "level": "INFO",
        "logger": "receiver.requests",
        "msg": "webhook accepted",
        "event_id": "evt_1",
        "source": "stripe",
        "outcome": "accepted",
        "status": 202,
    }
    assert parsed["ts"].endswith("Z")


def test_fields_outside_the_list_are_never_written() -> None:
    line = JsonFormatter().format(record(payload={"card": "4242"}, secret="whsec_x", event_id="evt_2"))
    assert "4242" not in line
    assert "whsec_x" not in line
    assert orjson.loads(line)["event_id"] == "evt_2"


def test_the_text_line_carries_the_same_facts() -> None:
    line = TextFormatter().format(record(event_id="evt_3", outcome="accepted", status=202, payload="x"))
    assert line.endswith("INFO receiver.requests: webhook accepted event_id=evt_3 outcome=accepted status=202")
