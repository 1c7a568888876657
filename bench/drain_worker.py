"""`python -m bench.drain_worker TOPIC`: one consumer worker draining a benchmark topic as `github` events.

The worker of `python -m consumers` (its Redis store, payload validation, metrics and start-up), pointed at a
topic of the benchmark's own (so earlier events on `webhooks.github` don't count) with the no-op handler of
bench/noop.py. Settings come from the environment as for `python -m consumers`; metrics on CONSUMER_METRICS_PORT.
"""

from __future__ import annotations

import sys

from bench.noop import registry
from consumers.__main__ import run, run_loop
from consumers.settings import load_settings
from schemas.topics import GroupTopics


async def drain(topic: str) -> None:
    settings = load_settings()
    group = settings.consumer_group
    topics = GroupTopics("github", topic, f"{topic}.{group}.retry", f"{topic}.{group}.dlq")
    await run(settings, registry, topics=[topics])


if __name__ == "__main__":
    run_loop(drain(sys.argv[1]))
