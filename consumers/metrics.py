"""The consumers' Prometheus metrics; names and labels are part of the contract (docs/contract.md, "Metrics").

Label values come from small fixed sets (providers, the group, topics, partitions, `Outcome`, the registered
handler names), never from an event.
"""

from __future__ import annotations

import collections
import enum
import threading
from typing import Generic, TypeVar
from wsgiref.simple_server import WSGIServer

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, start_http_server

M = TypeVar("M", Counter, Gauge, Histogram)


class Outcome(enum.StrEnum):
    """How a consumed record ended, the `outcome` label of `webhooks_processed_total`."""

    OK = "ok"
    DUPLICATE = "duplicate"
    INVALID = "invalid"
    RETRIED = "retried"
    DEAD_LETTERED = "dead_lettered"


class ConsumerMetrics:
    """The metrics of one worker, on the registry it is given.

    Args:
        registry: where the metrics live; `serve` exposes it.
    """

    def __init__(self, registry: CollectorRegistry) -> None:
        self.registry = registry
        self.consumed = Counter(
            "webhooks_consumed",
            "Records fetched from the event and retry topics and handled by this group.",
            ["provider", "group"],
            registry=registry,
        )
        self.processed = Counter(
            "webhooks_processed",
            'Records dealt with, by handler and outcome: one count per handler a record concerned; handler "" for a '
            "record no handler ran for (invalid, or no handler matched).",
            ["provider", "group", "outcome", "handler"],
            registry=registry,
        )
        self.duplicates = Counter(
            "webhooks_duplicates",
            "Records of events this group had handled already.",
            ["provider", "group"],
            registry=registry,
        )
        self.handler_duration = Histogram(
            "webhooks_handler_duration_seconds",
            "Time spent in one handler call, failures and timeouts included.",
            ["provider", "group", "handler"],
            registry=registry,
            # Agent handlers are slow: up to the default 30 s timeout.
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 20, 30, 60),
        )
        # A partition's gauges count from its owner only: the others set theirs to 0 on revocation.
        partition = ["group", "topic", "partition"]
        self.lag = _gauge(
            registry,
            "webhooks_consumer_lag",
            "Records behind the end of the partition (high watermark minus position).",
            partition,
        )
        # The position runs ahead of the commit by the records in flight; a record that never resolves stops
        # the commit while the position goes on, so only these two show a wedged partition.
        self.committed_lag = _gauge(
            registry,
            "webhooks_consumer_committed_lag",
            "Records after the group's committed offset of the partition: what a new member would read again.",
            partition,
        )
        self.commit_stalled = _gauge(
            registry,
            "webhooks_consumer_commit_stalled_seconds",
            "How long the committed offset of the partition has not moved while records wait behind it.",
            partition,
        )
        self.claims_overdue = _gauge(
            registry,
            "webhooks_claims_overdue",
            "Claims this worker has held for longer than the longest handler timeout (leaked, or queued for a "
            "concurrency slot or a handler's rate that long).",
            ["group"],
        )
        self.in_flight = _gauge(
            registry, "webhooks_handlers_in_flight", "Events whose handlers are running now.", ["provider", "group"]
        )
        # The children counted per record, each looked up once: `labels()` costs more than the count itself.
        self.consumed_of = Children(self.consumed)
        self.processed_of = Children(self.processed)
        self.duplicates_of = Children(self.duplicates)
        self.handler_duration_of = Children(self.handler_duration)
        self.in_flight_of = Children(self.in_flight)


class Children(Generic[M]):
    """A metric's labelled children, each looked up once by its label values."""

    __slots__ = ("_children", "_metric")

    def __init__(self, metric: M) -> None:
        self._metric: M = metric
        self._children: dict[tuple[str, ...], M] = {}

    def __call__(self, *values: str) -> M:
        """The child of these label values (in the metric's label order)."""
        child = self._children.get(values)
        if child is None:
            child = self._children[values] = self._metric.labels(*values)
        return child


# Increments of counter children, gathered to be added once each (`add_counts`): a batch's records resolved together
# cost one increment per label set, not one per record.
Counts = collections.Counter[Counter]


def add_counts(counts: Counts) -> None:
    """Add up gathered increments."""
    for child, amount in counts.items():
        child.inc(amount)


def _gauge(registry: CollectorRegistry, name: str, documentation: str, labels: list[str]) -> Gauge:
    # Per member: with CONSUMER_WORKERS above 1 each member writes its own file, and the live members' values
    # add up.
    return Gauge(name, documentation, labels, registry=registry, multiprocess_mode="livesum")


def serve(registry: CollectorRegistry, host: str, port: int) -> tuple[WSGIServer, threading.Thread]:
    """Serve `GET /metrics` for the registry on host:port from a daemon thread; `server.shutdown()` stops it."""
    return start_http_server(port, addr=host, registry=registry)
