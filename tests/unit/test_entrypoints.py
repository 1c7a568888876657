"""`python -m receiver` and `python -m consumers` refuse bad configuration with one clear line (exit 2)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.repository import ROOT


def run(module: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    clean = {key: value for key, value in os.environ.items() if not key.startswith(("WEBHOOK_", "CONSUMER_"))}
    return subprocess.run(
        [sys.executable, "-m", module],
        env={**clean, **env},
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@pytest.mark.parametrize(
    ("module", "env", "named"),
    [
        ("receiver", {"RECEIVER_PORT": "eighty"}, "RECEIVER_PORT"),
        ("receiver", {"WEBHOOK_TOLERANCE_SECONDS": "-1"}, "WEBHOOK_TOLERANCE_SECONDS"),
        ("receiver", {"WEBHOOK_SECRET_GITHB": "s3cr3t-value"}, "WEBHOOK_SECRET_GITHB"),
        ("receiver", {"WEBHOOK_SOURCES_FILE": "/nonexistent/sources.toml"}, "WEBHOOK_SOURCES_FILE"),
        ("receiver", {"RECEIVER_WORKERS": "0"}, "RECEIVER_WORKERS"),
        # The supervisor checks the sources itself before it starts any worker.
        (
            "receiver",
            {"RECEIVER_WORKERS": "2", "WEBHOOK_SOURCES_FILE": "/nonexistent/sources.toml"},
            "WEBHOOK_SOURCES_FILE",
        ),
        ("receiver", {"KAFKA_SECURITY_PROTOCOL": "TLS"}, "KAFKA_SECURITY_PROTOCOL"),
        ("consumers", {"CONSUMER_MAX_ATTEMPTS": "0"}, "CONSUMER_MAX_ATTEMPTS"),
        ("consumers", {"CONSUMER_HANDLERS": "no.such.module"}, "no.such.module"),
        ("consumers", {}, "CONSUMER_HANDLERS is not set"),
    ],
)
def test_bad_configuration_is_one_line_naming_it(module: str, env: dict[str, str], named: str) -> None:
    result = run(module, env)
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert named in lines[0]
    assert "Traceback" not in result.stderr
    assert "s3cr3t-value" not in result.stderr


def test_sources_file_error_names_the_entry(tmp_path: Path) -> None:
    path = tmp_path / "sources.toml"
    path.write_text('[sources.acme]\nprovider = "hmac"\nencoding = "base32"\n')
    result = run("receiver", {"WEBHOOK_SOURCES_FILE": str(path), "WEBHOOK_SECRET_ACME": "k"})
    assert result.returncode == 2
    assert f"WEBHOOK_SOURCES_FILE {path}: sources.acme.encoding" in result.stderr
