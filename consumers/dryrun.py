"""`python -m consumers --dry-run`: what the group would do with the records waiting for it, changing nothing.

It reads each event and retry topic of the group from the group's committed offsets (the beginning where it has
none) to its end as of the start, without joining the group (the live members keep their partitions), and
lists for each record which handlers would run: only those that have not succeeded for the event yet, none
for a duplicate, or why it is invalid. It claims nothing, runs nothing, sends nothing and commits nothing.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any

from consumers.claims import OUTAGE_BACKOFF_S
from consumers.decoding import Invalid, decode
from consumers.errors import until_available
from consumers.idempotency import ClaimStore
from consumers.kafka import TimedRecord, attempt_of
from consumers.registry import Registry
from schemas.topics import GroupTopics

# Reads a topic from the group's committed offsets to its end as of the call (`consumers.kafka.read_to_end`).
Reader = Callable[[str], AsyncIterator[TimedRecord]]


@dataclass(slots=True)
class DrySummary:
    """What a dry run found, by what would become of each record."""

    read: int = 0
    would_run: int = 0
    duplicates: int = 0
    unmatched: int = 0
    invalid: int = 0

    def line(self) -> str:
        """One line for the operator."""
        return (
            f"{self.read} records waiting: {self.would_run} would run handlers, {self.duplicates} duplicates, "
            f"{self.unmatched} without a matching handler, {self.invalid} invalid"
        )


async def dry_run(
    groups: Sequence[GroupTopics],
    *,
    group: str,
    registry: Registry[Any],
    store: ClaimStore,
    read: Reader,
    out: Callable[[str], None] = print,
) -> DrySummary:
    """List what the group would do with each record waiting on its event and retry topics."""
    summary = DrySummary()
    for topics in groups:
        for topic, retry in ((topics.topic, False), (topics.retry_topic, True)):
            async for record in read(topic):
                summary.read += 1
                item = decode(record, topics, group, attempt_of(record) if retry else 1, registry)
                where = f"{record.topic}[{record.partition}]@{record.offset}"
                if isinstance(item, Invalid):
                    summary.invalid += 1
                    out(f"invalid    {where}: {item.reason}")
                    continue
                event = item.event
                what = f"{event.id} ({event.type or '-'}, attempt {item.attempt}, {where})"
                keys = [item.claim_key]
                [done] = await until_available(partial(store.is_done, keys), backoff_s=OUTAGE_BACKOFF_S)
                if done:
                    summary.duplicates += 1
                    out(f"duplicate  {what}: handled already")
                    continue
                handlers = registry.handlers_for(event.provider, event.type)
                [handled] = await until_available(partial(store.handled, keys), backoff_s=OUTAGE_BACKOFF_S)
                pending = [handler.name for handler in handlers if handler.name not in handled]
                if not pending:
                    summary.unmatched += 1
                    out(f"done       {what}: no handler matches (or all have succeeded)")
                    continue
                summary.would_run += 1
                out(f"would run  {what}: {', '.join(pending)}")
    return summary
