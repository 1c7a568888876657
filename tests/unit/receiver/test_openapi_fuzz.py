"""schemathesis against the receiver's own OpenAPI document: no generated request gets a 5xx.

The app is the real one (FastAPI and the bare webhook route) with the in-memory recording publisher, called
in process. Generated bodies are also sent signed with the right secret, so they get past the signature
check into parsing, where a 500 would hide.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

import httpx
import hypothesis
import pytest
import schemathesis
from hypothesis import HealthCheck
from prometheus_client import CollectorRegistry
from schemathesis.checks import not_a_server_error, status_code_conformance
from schemathesis.core import NotSet

from receiver.app import create_app
from receiver.settings import ReceiverSettings
from receiver.sources import load_sources
from tests.fakes import RecordingPublisher
from tests.signing import hmac_headers

pytestmark = pytest.mark.fault

SECRETS = {"WEBHOOK_SECRET_HMAC": "fuzz-secret", "WEBHOOK_SECRET_GITHUB": "gh", "WEBHOOK_SECRET_STRIPE": "whsec_f"}
# Bounded: the whole module stays within a few seconds.
MAX_EXAMPLES = 60

PUBLISHER = RecordingPublisher()
APP = create_app(
    ReceiverSettings(max_body_bytes=65_536),
    sources=load_sources(SECRETS, sources_file=None, tolerance_s=300),
    publisher=PUBLISHER,
    registry=CollectorRegistry(),
)
schema = schemathesis.openapi.from_asgi("/openapi.json", APP)
FUZZ = hypothesis.settings(
    max_examples=MAX_EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True
)


@schema.parametrize()
@FUZZ
def test_no_generated_request_gets_a_5xx_or_an_undocumented_status(case: schemathesis.Case[Any]) -> None:
    response = case.call()
    case.validate_response(response, checks=[not_a_server_error, status_code_conformance])


async def post_signed(body: bytes) -> httpx.Response:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=APP), base_url="http://fuzz") as http:
        return await http.post(
            "/webhooks/hmac", content=body, headers=hmac_headers(body, SECRETS["WEBHOOK_SECRET_HMAC"])
        )


@schema.include(path="/webhooks/{source}").parametrize()
@FUZZ
def test_generated_bodies_signed_right_are_accepted_or_refused_never_a_5xx(case: schemathesis.Case[Any]) -> None:
    # Negative generation may leave the body out (NotSet): then it is sent empty.
    generated = b"" if isinstance(case.body, NotSet) else case.body
    body = generated if isinstance(generated, bytes) else json.dumps(generated).encode()
    response = asyncio.run(post_signed(body))
    assert response.status_code in {202, 400}, (body[:200], response.status_code, response.text)
    if response.status_code == 202:
        assert response.json()["status"] == "accepted"
        assert PUBLISHER.records[-1][1] == response.json()["id"].encode()
