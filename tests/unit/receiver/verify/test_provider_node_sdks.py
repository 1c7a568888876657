"""Our verifiers and signers against providers' own Node SDKs (pinned in tests/sdks, installed by
`make node-deps`), for providers whose only published verifier is JavaScript.

Each test has the SDK check what `send` signs (so our signer is theirs) and, where the SDK can sign, our
verifier check what the SDK signs. A changed body or another secret must be refused by both. `SDK_PROVEN`
lists the providers proven here; tests/unit/receiver/verify/test_specs.py holds every spec's `proof` to it.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import time
from pathlib import Path
from typing import Any

import orjson
import pytest

from receiver import sample_sender
from receiver.sources import Source, load_sources, secret_env_name
from receiver.verify.base import Inbound

ROOT = Path(__file__).resolve().parents[4]
SDKS = ROOT / "tests" / "sdks"
# The providers whose spec says "SDK:" because of a test here.
SDK_PROVEN = {"mux": "@mux/mux-node", "zoom": "@zoom/rivet", "twitter": "twitter-autohook"}


def node_sdk(call: str, **arguments: Any) -> dict[str, Any]:
    """The answer of tests/sdks/sdk.cjs to one call: {"ok": bool, "value" or "error"}."""
    node = shutil.which("node")
    if node is None or not (SDKS / "node_modules" / ".installed").is_file():
        pytest.fail("the providers' Node SDKs are missing: run `make node-deps` (needs Node 20+ and npm)")
    request = json.dumps({"call": call, **arguments})
    done = subprocess.run(
        [node, str(SDKS / "sdk.cjs")], input=request, capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr
    answer: dict[str, Any] = json.loads(done.stdout)
    return answer


def _source(provider: str, secret: str) -> Source:
    return load_sources({secret_env_name(provider): secret}, sources_file=None, tolerance_s=300)[provider]


def _signed(provider: str, secret: str) -> tuple[Source, sample_sender.SignedRequest]:
    source = _source(provider, secret)
    return source, sample_sender.sign(source, None, None, time.time())


def _lower(headers: dict[str, str]) -> dict[str, str]:
    return {name.lower(): value for name, value in headers.items()}


def _tampered(body: bytes) -> str:
    return body.decode().replace('"type"', '"tYpe"', 1)


# ------------------------------------------------------------------------------------------------ mux


def test_mux_sdk_verifies_what_send_signs() -> None:
    _, request = _signed("mux", "mux-signing-secret")
    headers = _lower(request.headers)
    body = request.body.decode()
    assert node_sdk("mux.verify", body=body, headers=headers, secret="mux-signing-secret")["ok"]
    assert not node_sdk("mux.verify", body=body, headers=headers, secret="another-secret")["ok"]
    assert not node_sdk("mux.verify", body=_tampered(request.body), headers=headers, secret="mux-signing-secret")["ok"]


# ----------------------------------------------------------------------------------------------- zoom


def test_zoom_sdk_accepts_what_send_signs() -> None:
    _, request = _signed("zoom", "zoom-secret-token")
    body, headers = request.body.decode(), _lower(request.headers)
    answer = node_sdk("zoom.receive", body=body, headers=headers, secret="zoom-secret-token")
    assert answer["value"]["status"] == 200, answer
    assert answer["value"]["emitted"] == [json.loads(body)["event"]]
    forged = node_sdk("zoom.receive", body=body, headers=headers, secret="another-secret")
    assert forged["value"]["status"] == 400


def test_zoom_sdk_and_our_receiver_answer_the_url_validation_alike() -> None:
    # Rivet verifies the signed endpoint.url_validation and answers it itself: our answer must be its answer.
    source = _source("zoom", "zoom-secret-token")
    request = sample_sender.handshake(source, "zoom", time.time())
    theirs = node_sdk(
        "zoom.receive", body=request.body.decode(), headers=_lower(request.headers), secret="zoom-secret-token"
    )
    assert theirs["value"]["status"] == 200, theirs
    [handshake] = [h for h in source.handshakes if h.kind == "zoom"]
    inbound = Inbound("POST", {}, {k.lower().encode(): v.encode() for k, v in request.headers.items()}, request.body)
    ours = handshake.answer(inbound, source.secrets[0], None)
    assert ours is not None
    assert orjson.loads(ours.body) == theirs["value"]["body"]


# -------------------------------------------------------------------------------------------- twitter


def test_twitter_sdk_verifies_what_send_signs() -> None:
    _, request = _signed("twitter", "consumer-secret")
    headers, body = _lower(request.headers), request.body.decode()
    for secret, valid in (("consumer-secret", True), ("other", False)):
        assert node_sdk("twitter.verify", body=body, headers=headers, secret=secret) == {"ok": True, "value": valid}


def test_twitter_sdk_and_our_receiver_answer_the_crc_alike() -> None:
    source = _source("twitter", "consumer-secret")
    [crc] = [h for h in source.handshakes if h.kind == "crc"]
    ours = crc.answer(Inbound("GET", {"crc_token": "crc-1795000000"}, {}, b""), source.secrets[0], None)
    assert ours is not None
    theirs = node_sdk("twitter.crc", token="crc-1795000000", secret="consumer-secret")
    assert orjson.loads(ours.body) == theirs["value"]
