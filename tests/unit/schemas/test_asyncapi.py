"""The AsyncAPI document: generated from the code, committed in step with it, valid for the official parser.

`@asyncapi/parser` (npm, pinned by `tests/asyncapi/package-lock.json`, installed by `make node-deps`) is
the parser AsyncAPI tools are built on: what it accepts, their generators and studios read.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from schemas import __main__ as cli
from schemas.asyncapi import document, render
from schemas.payloads import PAYLOAD_MODELS
from schemas.topics import dlq_topic, event_topic, retry_topic
from tests.repository import ROOT

COMMITTED = ROOT / "docs" / "asyncapi.json"
VALIDATOR = ROOT / "tests" / "asyncapi" / "validate.cjs"
PARSER = ROOT / "tests" / "asyncapi" / "node_modules" / "@asyncapi" / "parser"


def parse(path: Path) -> dict[str, Any]:
    """What the official parser makes of the file at `path` (see validate.cjs)."""
    node = shutil.which("node")
    if node is None or not PARSER.is_dir():
        pytest.fail("the AsyncAPI parser is missing: run `make node-deps` (needs Node 20+ and npm)")
    done = subprocess.run([node, str(VALIDATOR), str(path)], capture_output=True, text=True, timeout=60, check=False)
    if done.returncode not in (0, 1):
        pytest.fail(f"validate.cjs failed: {done.stderr.strip()}")
    result: dict[str, Any] = json.loads(done.stdout)
    return result


def test_the_committed_document_is_the_generated_one() -> None:
    assert COMMITTED.read_text(encoding="utf-8") == render(), "docs/asyncapi.json is stale: run `make docs`"


def test_the_official_parser_accepts_it_with_a_channel_per_topic_and_the_operations() -> None:
    result = parse(COMMITTED)
    assert result["valid"], result["errors"]
    assert (result["errors"], result["warnings"]) == ([], [])
    assert result["version"] == "3.0.0"
    providers = sorted(PAYLOAD_MODELS)
    expected = {
        address
        for provider in providers
        for address in (event_topic(provider), retry_topic(provider, "{group}"), dlq_topic(provider, "{group}"))
    }
    assert set(result["channels"]) == expected
    assert "send github.events.send" in result["operations"]
    assert "receive github.events.receive" in result["operations"]
    assert "receive github.retry.receive" in result["operations"]
    assert "send github.dlq.send" in result["operations"]
    assert len(result["operations"]) == 5 * len(providers)
    assert result["messages"] == 3 * len(providers)


def test_the_parser_refuses_a_broken_document(tmp_path: Path) -> None:
    broken = document()
    broken["operations"]["github.events.send"]["action"] = "publish"  # AsyncAPI 2's word, not 3's
    del broken["channels"]["github.retry"]["address"]
    broken["channels"]["github.retry"]["adress"] = "typo"
    path = tmp_path / "broken.json"
    path.write_text(json.dumps(broken), encoding="utf-8")
    result = parse(path)
    assert not result["valid"]
    assert result["errors"]


def test_messages_carry_the_envelope_the_payload_schema_the_headers_and_the_key() -> None:
    doc = document()
    message = doc["components"]["messages"]["github.events"]
    assert message["payload"]["allOf"][0] == {"$ref": "#/components/schemas/Envelope"}
    assert message["payload"]["allOf"][1]["properties"]["payload"] == {"$ref": "#/components/schemas/GitHubEvent"}
    assert message["bindings"]["kafka"]["key"]["type"] == "string"
    headers = doc["components"]["schemas"]["EventRecordHeaders"]["properties"]
    assert {"webhook-id", "traceparent", "ce_specversion", "ce_id", "ce_source", "ce_type", "ce_time"} <= set(headers)
    assert {"ce_subject", "ce_traceparent", "content-type"} <= set(headers)
    failure = doc["components"]["schemas"]["FailureRecordHeaders"]["properties"]
    assert {"webhook-attempt", "webhook-error-class", "webhook-original-topic"} <= set(failure)
    # Every reference points into the document.
    text = json.dumps(doc)
    assert "#/$defs/" not in text


def test_the_command_writes_the_document(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    target = tmp_path / "asyncapi.json"
    assert cli.main(["asyncapi", str(target)]) == 0
    assert target.read_text(encoding="utf-8") == render()
    assert cli.main(["asyncapi"]) == 0
    assert capsys.readouterr().out.endswith(render())
    assert cli.main(["asyncapi", str(tmp_path / "missing" / "x.json")]) == 2
