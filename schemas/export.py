"""JSON Schema of the wire contract, for downstream teams that don't read Python.

`python -m schemas export DIR` writes `envelope.schema.json` (the record value on every topic) and one
`<provider>.schema.json` per provider payload model (`schemas.payloads.PAYLOAD_MODELS`). The models keep
fields they don't name (`extra="allow"`), so a payload schema lists what we read, not all a provider sends.
The output is deterministic: commit it and a diff shows a contract change.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from schemas.envelope import ENVELOPE_VERSION, Envelope
from schemas.payloads import PAYLOAD_MODELS

# Pydantic generates this dialect.
JSON_SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"
SUFFIX = ".schema.json"


def json_schema(model: type[BaseModel], title: str, description: str | None = None) -> dict[str, Any]:
    """The model's validation schema, with the dialect and a title of our choosing first."""
    schema = model.model_json_schema(mode="validation")
    head: dict[str, Any] = {"$schema": JSON_SCHEMA_DIALECT, "title": title}
    if description is not None:
        head["description"] = description
    return head | {key: value for key, value in schema.items() if key not in head}


def schemas() -> dict[str, dict[str, Any]]:
    """File name (without directory) to schema, for the envelope and every provider with a model."""
    out = {
        "envelope" + SUFFIX: json_schema(
            Envelope, f"Envelope v{ENVELOPE_VERSION}", "The value of every record on webhooks.<provider> topics."
        )
    }
    for provider, model in sorted(PAYLOAD_MODELS.items()):
        out[provider + SUFFIX] = json_schema(model, f"{provider} payload ({model.__name__})")
    return out


def export(directory: Path) -> list[Path]:
    """Write every schema into `directory` (created if missing); the paths written."""
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for name, schema in schemas().items():
        path = directory / name
        path.write_text(json.dumps(schema, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
        written.append(path)
    return written
