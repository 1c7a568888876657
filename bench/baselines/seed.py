"""BASELINE, the seed design: a FastAPI route that verifies, parses, and answers before anything is durable.

What most hand-rolled receivers look like: an injected `Request`, the HMAC check, `json` parsing, and a
`BackgroundTasks` job doing a Redis `SET NX` per event after the 202 has gone out (a crash loses it).
Run: `uvicorn bench.baselines.seed:app` with REDIS_URL set.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os

import redis.asyncio
from fastapi import BackgroundTasks, FastAPI, HTTPException, Request

SECRET = os.environ.get("BENCH_SECRET", "bench-secret").encode()
# A blocking pool, so a burst waits for a connection instead of failing the background task.
store = redis.asyncio.Redis(
    connection_pool=redis.asyncio.BlockingConnectionPool.from_url(
        os.environ.get("REDIS_URL", "redis://localhost:6379/0"), max_connections=256
    )
)
app = FastAPI()


async def remember(event_id: str, body: bytes) -> None:
    await store.set(f"seed:{event_id}", body, nx=True, ex=3600)


@app.post("/webhooks/{source}", status_code=202)
async def receive(source: str, request: Request, background: BackgroundTasks) -> dict[str, str]:
    body = await request.body()
    expected = "sha256=" + hmac.new(SECRET, body, hashlib.sha256).hexdigest()
    if not hmac.compare_digest(expected, request.headers.get("x-hub-signature-256", "")):
        raise HTTPException(401, "invalid_signature")
    json.loads(body)
    event_id = request.headers["x-github-delivery"]
    background.add_task(remember, event_id, body)
    return {"status": "accepted", "id": event_id}
