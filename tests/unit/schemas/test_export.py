"""`python -m schemas export DIR`: the contract as JSON Schema files, one per model, stable across runs."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest

from schemas import Envelope
from schemas.__main__ import main
from schemas.export import JSON_SCHEMA_DIALECT
from schemas.payloads import PAYLOAD_MODELS
from tests.repository import ROOT


def test_export_writes_the_envelope_and_every_provider_model(tmp_path: Path) -> None:
    completed = subprocess.run(
        [sys.executable, "-m", "schemas", "export", str(tmp_path / "out")],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr
    names = {path.name for path in (tmp_path / "out").iterdir()}
    assert names == {"envelope.schema.json"} | {f"{provider}.schema.json" for provider in PAYLOAD_MODELS}
    assert completed.stdout.strip() == f"wrote {len(names)} schemas to {tmp_path / 'out'}"
    for name in names:
        schema = json.loads((tmp_path / "out" / name).read_text())
        assert schema["$schema"] == JSON_SCHEMA_DIALECT
        assert schema["title"]
        assert schema["type"] in {"object", "array"}


def test_the_envelope_schema_is_the_wire_contract(tmp_path: Path) -> None:
    assert main(["export", str(tmp_path)]) == 0
    schema = json.loads((tmp_path / "envelope.schema.json").read_text())
    assert schema["additionalProperties"] is False  # extra="forbid": a reader may rely on the field list
    envelope = Envelope(
        id="evt_1",
        source="hmac",
        provider="hmac",
        type="order.created",
        received_at=datetime.now(UTC),
        payload={},
        tenant="acme",
    )
    on_the_wire = json.loads(envelope.to_bytes())
    assert set(schema["properties"]) == set(on_the_wire)
    assert {"id", "source", "provider", "received_at", "payload"} <= set(schema["required"])
    # Optional: an event without a tenant is written as before, without the field.
    assert "tenant" not in schema["required"]
    assert "tenant" not in json.loads(envelope.model_copy(update={"tenant": None}).to_bytes())
    assert schema["properties"]["received_at"]["format"] == "date-time"


def test_payload_schemas_allow_fields_they_do_not_name(tmp_path: Path) -> None:
    main(["export", str(tmp_path)])
    stripe = json.loads((tmp_path / "stripe.schema.json").read_text())
    assert stripe.get("additionalProperties", True) is not False
    assert {"id", "type"} <= set(stripe["properties"])
    github = json.loads((tmp_path / "github.schema.json").read_text())
    assert "repository" in github["properties"]


def test_export_is_deterministic(tmp_path: Path) -> None:
    main(["export", str(tmp_path / "a")])
    main(["export", str(tmp_path / "b")])
    for path in sorted((tmp_path / "a").iterdir()):
        assert path.read_bytes() == (tmp_path / "b" / path.name).read_bytes()


def test_an_unwritable_directory_is_one_line_and_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    assert main(["export", str(blocker / "sub")]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"schemas: cannot write {blocker / 'sub'}: ")
    assert len(err.strip().splitlines()) == 1
