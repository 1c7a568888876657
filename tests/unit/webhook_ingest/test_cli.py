"""The `webhooks` command installed with the package: every subcommand has its help and reaches its process."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.repository import ROOT
from webhook_ingest.cli import COMMANDS, main

# The console script pip wrote from [project.scripts], beside this interpreter.
SCRIPT = Path(sys.executable).parent / "webhooks"


def webhooks(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    clean = {key: value for key, value in os.environ.items() if not key.startswith(("WEBHOOK_", "CONSUMER_"))}
    return subprocess.run(
        [str(SCRIPT), *args], env={**clean, **(env or {})}, cwd=ROOT, capture_output=True, text=True, timeout=60
    )


def test_the_script_is_installed_and_lists_every_command() -> None:
    result = webhooks("--help")
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("usage: webhooks")
    for name in ("serve", "consume", "replay", "send", "schema"):
        assert f"    {name} " in result.stdout


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_every_command_has_its_help(command: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main([command, "--help"])
    assert exited.value.code == 0
    assert capsys.readouterr().out.startswith(f"usage: webhooks {command} ")


@pytest.mark.parametrize("argv", [[], ["bogus"], ["serve", "--port", "1"]])
def test_a_usage_error_is_exit_2(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(argv)
    assert exited.value.code == 2
    assert "usage: webhooks" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("command", "env", "named"),
    [
        ("serve", {"RECEIVER_PORT": "eighty"}, "RECEIVER_PORT"),
        ("consume", {"CONSUMER_MAX_ATTEMPTS": "0"}, "CONSUMER_MAX_ATTEMPTS"),
        ("replay", {"CONSUMER_HANDLERS": "no.such.module"}, "no.such.module"),
        ("send", {}, "WEBHOOK_SECRET_HMAC"),
    ],
)
def test_each_command_reaches_its_process(command: str, env: dict[str, str], named: str) -> None:
    # A configuration error is the cheapest proof that the process itself parsed and refused it.
    result = webhooks(command, *(["hmac"] if command == "send" else []), env=env)
    assert result.returncode == 2, result.stderr
    [line] = result.stderr.strip().splitlines()
    assert named in line


def test_schema_writes_what_python_m_schemas_writes(tmp_path: Path) -> None:
    assert webhooks("schema", "export", str(tmp_path / "cli")).returncode == 0
    module = subprocess.run(
        [sys.executable, "-m", "schemas", "export", str(tmp_path / "module")], cwd=ROOT, timeout=60, check=True
    )
    assert module.returncode == 0
    written = sorted(path.name for path in (tmp_path / "cli").iterdir())
    assert "envelope.schema.json" in written
    assert written == sorted(path.name for path in (tmp_path / "module").iterdir())
    for name in written:
        assert json.loads((tmp_path / "cli" / name).read_text()) == json.loads((tmp_path / "module" / name).read_text())
