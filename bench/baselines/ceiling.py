"""BASELINE, the ceiling: a bare ASGI app that verifies the GitHub HMAC and parses the JSON, nothing else.

No framework, no Kafka, nothing durable: what one uvicorn worker can do with the same per-request work.
Run: `uvicorn bench.baselines.ceiling:app`.
"""

from __future__ import annotations

import hashlib
import hmac
import os

import orjson
from starlette.types import Receive, Scope, Send

SECRET = os.environ.get("BENCH_SECRET", "bench-secret").encode()
_HEADERS = [(b"content-type", b"application/json")]


async def app(scope: Scope, receive: Receive, send: Send) -> None:
    if scope["type"] != "http":
        return
    body = b""
    more = True
    while more:
        message = await receive()
        body += message.get("body", b"")
        more = message.get("more_body", False)
    headers = dict(scope["headers"])
    expected = b"sha256=" + hmac.new(SECRET, body, hashlib.sha256).hexdigest().encode()
    if not hmac.compare_digest(expected, headers.get(b"x-hub-signature-256", b"")):
        status, payload = 401, {"error": "invalid_signature"}
    else:
        orjson.loads(body)
        status, payload = 202, {"status": "accepted", "id": headers[b"x-github-delivery"].decode()}
    await send({"type": "http.response.start", "status": status, "headers": _HEADERS})
    await send({"type": "http.response.body", "body": orjson.dumps(payload)})
