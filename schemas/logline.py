"""The log line both processes write: one JSON object per line, for log pipelines to parse.

Fields: `ts` (RFC 3339, UTC, milliseconds), `level`, `logger`, `msg`, then whichever of `FIELDS` the call
passed as `extra`. Only those are written: facts about an event, never its payload or a credential.
`LOG_FORMAT=text` gives the classic one-line text form instead, for a terminal.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime

import orjson

FIELDS = ("event_id", "source", "tenant", "provider", "group", "type", "outcome", "status", "attempt", "duration_ms")
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


class JsonFormatter(logging.Formatter):
    """Formats a record as one JSON object."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, object] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds")[:-6] + "Z",
            "level": record.levelname,
            "logger": record.name,
            "msg": record.getMessage(),
        }
        for field in FIELDS:
            value = record.__dict__.get(field)
            if value is not None:
                line[field] = value
        if record.exc_info:
            line["exc"] = self.formatException(record.exc_info)
        return orjson.dumps(line, default=str).decode()


class TextFormatter(logging.Formatter):
    """The classic text line, with the same event facts appended as `key=value`."""

    def __init__(self) -> None:
        super().__init__(TEXT_FORMAT)

    def format(self, record: logging.LogRecord) -> str:
        facts = [f"{field}={record.__dict__[field]}" for field in FIELDS if record.__dict__.get(field) is not None]
        line = super().format(record)
        return f"{line} {' '.join(facts)}" if facts else line


def configure_logging(level: str, log_format: str) -> None:
    """Configure the root logger once, from `__main__`: JSON lines or text, at `level`."""
    # Neither line has the caller's file and line, the thread or the process: not collecting them for every
    # record (the logging HOWTO's "Optimization") saves about a sixth of the line per request (docs/performance.md).
    logging._srcfile = None
    logging.logThreads = False
    logging.logProcesses = False
    logging.logMultiprocessing = False
    handler = logging.StreamHandler()
    handler.setFormatter(JsonFormatter() if log_format == "json" else TextFormatter())
    logging.basicConfig(level=level, handlers=[handler], force=True)
