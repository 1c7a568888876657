"""`python -m bench.drain_worker TOPIC [HANDLER]`: one consumer worker draining a benchmark topic as `github` events.

The worker of `python -m consumers` (its Redis store, payload validation, metrics and start-up), pointed at a
topic of the benchmark's own (so earlier events on `webhooks.github` don't count) with the no-op handler of
bench/noop.py, or (HANDLER `json` or `model`) one of bench/readers.py that reads the payload. Settings come from the
environment as for `python -m consumers`; metrics on CONSUMER_METRICS_PORT.
"""

from __future__ import annotations

import sys
from typing import Any

from bench import noop, readers
from consumers.__main__ import run, run_loop
from consumers.registry import Registry
from consumers.settings import load_settings
from schemas.topics import GroupTopics

HANDLERS: dict[str, Registry[Any]] = {"noop": noop.registry, "json": readers.json, "model": readers.model}


async def drain(topic: str, handler: str = "noop") -> None:
    settings = load_settings()
    group = settings.consumer_group
    topics = GroupTopics("github", topic, f"{topic}.{group}.retry", f"{topic}.{group}.dlq")
    await run(settings, HANDLERS[handler], topics=[topics])


if __name__ == "__main__":
    run_loop(drain(*sys.argv[1:3]))
