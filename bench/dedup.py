"""The cost of remembering handled events: Redis memory and commands per event, on a Redis of its own.

`N` distinct events and `N/10` redeliveries of them go through the idempotency store the way a worker sends
them (claim a batch, complete what was claimed; a redelivery finds its event done), then `used_memory`
growth and `INFO commandstats` are read. `python -m bench.dedup --redis-url redis://127.0.0.1:PORT/0`
runs it alone; `make bench` runs it on a redis-server it starts.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import shutil
import socket
import tempfile
import time
import uuid
from dataclasses import asdict, dataclass

import redis.asyncio
import redis.exceptions

from consumers.idempotency import Claim, IdempotencyStore, claim_key

LEASE_MS = 60_000


@dataclass(frozen=True, slots=True)
class DedupFigures:
    """What remembering `events` distinct events (and `redeliveries`) cost."""

    redis_version: str
    events: int
    redeliveries: int
    batch: int
    used_memory_growth: int
    bytes_per_event: float
    script_calls_per_event: float
    commands_per_event: float
    seconds: float
    duplicates_found: int
    hashes: int
    largest_hash: int
    encodings: dict[str, int]


async def _commands(client: redis.asyncio.Redis) -> tuple[int, int]:
    stats = await client.info("commandstats")
    total = sum(int(v["calls"]) for k, v in stats.items() if k not in {"cmdstat_info"})
    scripts = sum(int(stats.get(name, {}).get("calls", 0)) for name in ("cmdstat_evalsha", "cmdstat_eval"))
    return total, scripts


async def measure(
    client: redis.asyncio.Redis,
    *,
    events: int = 100_000,
    batch: int = 500,
    group: str = "bench",
    provider: str = "github",
) -> DedupFigures:
    """Send `events` distinct events and `events // 10` redeliveries through the store, on a flushed database.

    The database should be on a Redis nobody else uses meanwhile: `used_memory` is the whole server's.
    """
    await client.flushdb()
    store = IdempotencyStore(client)
    ids = [str(uuid.uuid4()) for _ in range(events)]  # GitHub's X-GitHub-Delivery is a UUID
    redelivered = random.Random(7).sample(ids, events // 10)
    # Redeliveries arrive among the new events, each after its first delivery was handled.
    stream = ids[: events // 2] + redelivered + ids[events // 2 :]
    warm_up = [claim_key(group, provider, "warm-up")]  # loads the scripts
    await store.claim(warm_up, "w", LEASE_MS)
    await store.complete(warm_up, "w")
    await client.flushdb()
    memory_before = int((await client.info("memory"))["used_memory"])
    commands_before, scripts_before = await _commands(client)
    started = time.perf_counter()
    duplicates = 0
    for start in range(0, len(stream), batch):
        keys = [claim_key(group, provider, event_id) for event_id in stream[start : start + batch]]
        claims = await store.claim(keys, "bench", LEASE_MS)
        duplicates += sum(claim is Claim.DONE for claim in claims)
        await store.complete([key for key, claim in zip(keys, claims, strict=True) if claim is Claim.CLAIMED], "bench")
    seconds = time.perf_counter() - started
    commands_after, scripts_after = await _commands(client)
    memory_after = int((await client.info("memory"))["used_memory"])
    hashes, largest = 0, 0
    encodings: dict[str, int] = {}
    async for key in client.scan_iter(match="webhooks:done:*", count=1000):
        if await client.type(key) == b"hash":
            hashes += 1
            largest = max(largest, await client.hlen(key))
            encoding = (await client.object("encoding", key)).decode()
            encodings[encoding] = encodings.get(encoding, 0) + 1
    sent = len(stream)
    return DedupFigures(
        redis_version=(await client.info("server"))["redis_version"],
        events=events,
        redeliveries=len(redelivered),
        batch=batch,
        used_memory_growth=memory_after - memory_before,
        bytes_per_event=(memory_after - memory_before) / events,
        script_calls_per_event=(scripts_after - scripts_before) / sent,
        commands_per_event=(commands_after - commands_before) / sent,
        seconds=seconds,
        duplicates_found=duplicates,
        hashes=hashes,
        largest_hash=largest,
        encodings=encodings,
    )


async def measure_on_own_redis(events: int, batch: int = 500) -> DedupFigures:
    """`measure` on a redis-server started for it on a free port (no persistence), stopped after."""
    binary = shutil.which("redis-server")
    if binary is None:
        raise RuntimeError("redis-server not found (make up provides it)")
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = int(sock.getsockname()[1])
    with tempfile.TemporaryDirectory(prefix="bench-dedup-") as home:
        server = await asyncio.create_subprocess_exec(
            *(binary, "--port", str(port), "--bind", "127.0.0.1", "--dir", home, "--save", "", "--appendonly", "no"),
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.DEVNULL,
        )
        client = redis.asyncio.Redis(host="127.0.0.1", port=port)
        try:
            for _ in range(100):
                try:
                    await client.ping()
                    break
                except redis.exceptions.ConnectionError:
                    await asyncio.sleep(0.05)
            return await measure(client, events=events, batch=batch)
        finally:
            await client.aclose()
            server.terminate()
            await server.wait()


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.dedup", description=__doc__.splitlines()[0])
    parser.add_argument("--redis-url", required=True, help="a Redis nobody else uses meanwhile (it is flushed)")
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--batch", type=int, default=500)
    args = parser.parse_args()

    async def run() -> DedupFigures:
        client = redis.asyncio.Redis.from_url(args.redis_url)
        try:
            return await measure(client, events=args.events, batch=args.batch)
        finally:
            await client.flushdb()
            await client.aclose()

    print(json.dumps(asdict(asyncio.run(run())), indent=2))


if __name__ == "__main__":
    main()
