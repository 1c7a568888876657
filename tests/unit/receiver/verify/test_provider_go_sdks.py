"""Our signer against providers' own Go SDKs (a tiny module in tests/sdks/go, pinned by its go.mod and
go.sum, built by the test with the Go toolchain and module proxy), for providers whose only published
verifier is Go: Gitea's `code.gitea.io/sdk/gitea`.

The SDK verifies what `send` signs; another secret and a changed body are refused by it as by us. The
providers proven here are `GO_SDK_PROVEN` in proofs.py; test_specs.py holds every spec's `proof` to it.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
from typing import Any

import pytest

from receiver import sample_sender
from receiver.errors import SignatureError
from receiver.sources import load_sources, secret_env_name
from tests.repository import ROOT

GO_SDKS = ROOT / "tests" / "sdks" / "go"
# The first run downloads the pinned modules through the Go proxy and compiles; later runs hit Go's caches.
BUILD_TIMEOUT_S = 300


def go_sdk(*calls: dict[str, Any]) -> list[dict[str, Any]]:
    """The answers of tests/sdks/go to the calls, in one process."""
    go = shutil.which("go")
    if go is None:
        pytest.fail("the Go toolchain is missing: Gitea's SDK proof builds tests/sdks/go with it (Go 1.26+)")
    done = subprocess.run(
        [go, "run", "-mod=readonly", "."],
        cwd=GO_SDKS,
        input=json.dumps({"calls": list(calls)}),
        capture_output=True,
        text=True,
        timeout=BUILD_TIMEOUT_S,
        check=False,
        env={**os.environ, "GOFLAGS": "-mod=readonly"},
    )
    assert done.returncode == 0, done.stderr
    answers: list[dict[str, Any]] = json.loads(done.stdout)
    assert len(answers) == len(calls)
    return answers


def test_giteas_sdk_verifies_what_send_signs() -> None:
    secret = "gitea-webhook-secret"
    source = load_sources({secret_env_name("gitea"): secret}, sources_file=None, tolerance_s=300)["gitea"]
    request = sample_sender.sign(source, None, None, time.time())
    body = request.body.decode()
    changed = body.replace('"ref"', '"reF"', 1)
    assert changed != body
    answers = go_sdk(
        {"secret": secret, "body": body, "headers": request.headers},
        {"secret": "another-secret", "body": body, "headers": request.headers},
        {"secret": secret, "body": changed, "headers": request.headers},
    )
    assert answers == [
        {"status": 200, "reached": True},
        {"status": 401, "reached": False},
        {"status": 401, "reached": False},
    ]
    wire = {name.lower().encode(): value.encode() for name, value in request.headers.items()}
    assert source.scheme.verify(wire, request.body, source.secrets, time.time()) == 0
    with pytest.raises(SignatureError):
        source.scheme.verify(wire, changed.encode(), source.secrets, time.time())
