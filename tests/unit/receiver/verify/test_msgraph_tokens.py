"""Microsoft Graph rich notifications: their `validationTokens` checked against keys served by a local HTTPS
server (a CA made by the test), the tokens signed by PyJWT with the claims Microsoft Graph's docs ("Set up
change notifications that include resource data", validating the tokens) say to check.
"""

from __future__ import annotations

import base64
import contextlib
import time
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import jwt
import orjson
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from prometheus_client import CollectorRegistry

from receiver.app import create_app
from receiver.settings import ReceiverSettings
from receiver.sources import Source
from receiver.verify import MsGraphScheme
from receiver.verify.msgraph import GRAPH_CHANGE_TRACKING_APP_ID
from tests.fakes import RecordingPublisher
from tests.keyserver import KeyServer, running_key_server

KEYS_PATH = "/common/discovery/v2.0/keys"
APP_ID = "5f2b9c1e-7d4a-4e8b-a1c3-0d9e8f7a6b5c"
TENANT = "84bd8158-6d4d-4958-8b9f-9d6445542f95"
CLIENT_STATE = "graph-client-state"
MICROSOFT = rsa.generate_private_key(public_exponent=65537, key_size=2048)
STRANGER = rsa.generate_private_key(public_exponent=65537, key_size=2048)


def _jwk(key: rsa.RSAPrivateKey, kid: str) -> dict[str, str]:
    numbers = key.public_key().public_numbers()

    def b64url(value: int) -> str:
        return base64.urlsafe_b64encode(value.to_bytes((value.bit_length() + 7) // 8, "big")).rstrip(b"=").decode()

    return {"kty": "RSA", "use": "sig", "kid": kid, "n": b64url(numbers.n), "e": b64url(numbers.e)}


def token(key: rsa.RSAPrivateKey = MICROSOFT, kid: str = "m1", **claims: Any) -> str:
    now = int(time.time())
    body = {
        "aud": APP_ID,
        "azp": GRAPH_CHANGE_TRACKING_APP_ID,
        "iss": f"https://sts.windows.net/{TENANT}/",
        "iat": now,
        "nbf": now,
        "exp": now + 3600,
        **claims,
    }
    return jwt.encode(body, key, "RS256", headers={"kid": kid})


def notification(tokens: list[str] | None, *, encrypted: bool = True) -> bytes:
    item: dict[str, Any] = {
        "subscriptionId": "5c8a1c4e-8a3c-4f1d-9b5e-7a2d1e0c9f41",
        "changeType": "created",
        "resource": "teams('fbe2bf47')/channels('19:4a95f7d8')/messages('1565045424600')",
        "clientState": CLIENT_STATE,
        "tenantId": TENANT,
    }
    if encrypted:
        item["encryptedContent"] = {"data": "ZW5jcnlwdGVk", "dataKey": "a2V5", "dataSignature": "c2ln"}
    payload: dict[str, Any] = {"value": [item]}
    if tokens is not None:
        payload["validationTokens"] = tokens
    return orjson.dumps(payload)


@pytest.fixture(scope="module")
def server() -> Iterator[KeyServer]:
    yield from running_key_server()


@pytest.fixture(autouse=True)
def _keys(server: KeyServer) -> None:
    server.routes.clear()
    server.seen.clear()
    server.serve(KEYS_PATH, orjson.dumps({"keys": [_jwk(MICROSOFT, "m1")]}))


@contextlib.asynccontextmanager
async def serving(server: KeyServer, secret: str) -> AsyncIterator[tuple[httpx.AsyncClient, RecordingPublisher]]:
    scheme = MsGraphScheme(fetcher=server.fetcher(), keys_url=server.url(KEYS_PATH))
    sources = {"msgraph": Source("msgraph", scheme, (secret.encode(),), "webhooks.msgraph")}
    publisher = RecordingPublisher()
    app = create_app(ReceiverSettings(), sources=sources, publisher=publisher, registry=CollectorRegistry())
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as http:
        yield http, publisher


async def post(http: httpx.AsyncClient, body: bytes) -> httpx.Response:
    return await http.post("/webhooks/msgraph", content=body, headers={"content-type": "application/json"})


async def test_a_rich_notification_with_microsofts_tokens_is_accepted(server: KeyServer) -> None:
    async with serving(server, f"{CLIENT_STATE}|{APP_ID}") as (http, publisher):
        assert (await post(http, notification([token()]))).status_code == 202
        assert (await post(http, notification([token(), token()]))).status_code == 202
        assert len(publisher.records) == 2
    assert server.hits(KEYS_PATH) == 1


@pytest.mark.parametrize(
    ("tokens", "status"),
    [
        pytest.param([token(aud="another-app")], 401, id="another-app"),
        pytest.param([token(azp="11111111-2222-3333-4444-555555555555")], 401, id="not-graph"),
        pytest.param([token(iss="https://sts.windows.net/another-tenant/")], 401, id="another-tenant"),
        pytest.param([token(STRANGER)], 401, id="signed-by-a-stranger-under-microsofts-kid"),
        pytest.param([token(exp=int(time.time()) - 3600)], 401, id="expired"),
        pytest.param([token(), token(aud="another-app")], 401, id="one-bad-of-two"),
        pytest.param([], 401, id="resource-data-without-tokens"),
        pytest.param(["not-a-jwt"], 401, id="malformed"),
    ],
)
async def test_a_rich_notification_without_good_tokens_is_refused(
    server: KeyServer, tokens: list[str], status: int
) -> None:
    async with serving(server, f"{CLIENT_STATE}|{APP_ID}") as (http, publisher):
        assert (await post(http, notification(tokens))).status_code == status
        assert publisher.records == []


async def test_a_made_up_key_id_refetches_the_keys_at_most_once_a_minute(server: KeyServer) -> None:
    async with serving(server, f"{CLIENT_STATE}|{APP_ID}") as (http, _):
        assert (await post(http, notification([token()]))).status_code == 202
        for n in range(3):
            assert (await post(http, notification([token(STRANGER, kid=f"made-up-{n}")]))).status_code == 401
    assert server.hits(KEYS_PATH) == 1


async def test_keys_that_cannot_be_fetched_are_a_503_so_graph_retries(server: KeyServer) -> None:
    server.serve(KEYS_PATH, b"unavailable", status=500)
    async with serving(server, f"{CLIENT_STATE}|{APP_ID}") as (http, publisher):
        response = await post(http, notification([token()]))
        assert response.status_code == 503
        assert publisher.records == []


async def test_without_an_app_id_only_the_client_state_is_checked(server: KeyServer) -> None:
    async with serving(server, CLIENT_STATE) as (http, publisher):
        assert (await post(http, notification(["not-checked"]))).status_code == 202
        assert len(publisher.records) == 1
    assert server.hits(KEYS_PATH) == 0


async def test_a_basic_notification_needs_no_tokens_even_with_an_app_id(server: KeyServer) -> None:
    async with serving(server, f"{CLIENT_STATE}|{APP_ID}") as (http, _):
        assert (await post(http, notification(None, encrypted=False))).status_code == 202
        assert (await post(http, notification(None))).status_code == 401
