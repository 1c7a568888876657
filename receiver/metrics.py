"""The receiver's Prometheus metrics (names are public: docs/contract.md, "Metrics").

Label values come from small fixed sets: the configured source names (an unknown one is counted as
`unknown`), the providers and the outcomes below. Never an event id. The run-time registry may hold tens of
thousands of sources: they are all counted as `source="registry"`, but the sources of the tenants an operator
names in `WEBHOOK_METRICS_TENANTS` (a list the operator bounds), which are counted under their tenant's name.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

# webhooks_received_total{outcome}: one per request to /webhooks/<source>.
OUTCOMES = (
    "accepted",
    "handshake",
    "invalid_signature",
    "stale_timestamp",
    "unknown_source",
    "too_large",
    "bad_request",
    "unavailable",
    "overloaded",
    "rate_limited",
)
# webhooks_signature_failures_total{reason}: why a request's signature was refused (`SignatureError.reason`).
# The sender only ever sees invalid_signature or stale_timestamp; the reason is for operators.
REASONS = ("bad_signature", "missing_header", "malformed_header", "stale_timestamp", "future_timestamp")

# The `source` label of requests to a source that doesn't exist: senders choose the path, so it can't be a label.
UNKNOWN_SOURCE_LABEL = "unknown"
# The `source` label of every registry source whose tenant is not in WEBHOOK_METRICS_TENANTS.
REGISTRY_SOURCE_LABEL = "registry"

# Seconds: from well under a millisecond (a refusal) to the publish timeout and beyond.
_LATENCY_BUCKETS_S = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)


class ReceiverMetrics:
    """The receiver's metrics, registered on the registry given (one per app, so tests stay apart)."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.registry = registry
        self.received = Counter(
            "webhooks_received_total",
            "Webhook requests by source, provider and outcome.",
            ["source", "provider", "outcome"],
            registry=registry,
        )
        self.request_duration = Histogram(
            "webhooks_request_duration_seconds",
            "Time from the request's first byte to the response, by source.",
            ["source"],
            buckets=_LATENCY_BUCKETS_S,
            registry=registry,
        )
        self.signature_failures = Counter(
            "webhooks_signature_failures_total",
            "Refused signatures by source and reason (bad_signature, missing_header, malformed_header, "
            "stale_timestamp, future_timestamp).",
            ["source", "reason"],
            registry=registry,
        )
        # The `secret` label is the matching secret's position in WEBHOOK_SECRET_<SOURCE> (0, 1, ...), never
        # the secret: when the old one's count stops growing, it can be retired.
        self.secret_matches = Counter(
            "webhooks_secret_matches_total",
            "Verified requests by source and position of the secret (or public key) that matched.",
            ["source", "secret"],
            registry=registry,
        )
        # Summed over the live worker processes (each has its own budget).
        self.pending_bytes = Gauge(
            "webhooks_pending_bytes",
            "Body bytes held by requests not yet verified (bounded by RECEIVER_MAX_PENDING_BYTES per process).",
            multiprocess_mode="livesum",
            registry=registry,
        )
        # The registry (receiver/registry/), summed up over the live worker processes the way a reader needs it:
        # the position every process has applied (the least), and the sources each serves (the most).
        self.registry_position = Gauge(
            "webhooks_registry_position",
            "Offset of the source registry's topic up to which every receiver process has applied the changes.",
            multiprocess_mode="livemin",
            registry=registry,
        )
        self.registry_sources = Gauge(
            "webhooks_registry_sources",
            "Sources of the run-time registry being served (enabled, with a valid secret).",
            multiprocess_mode="livemax",
            registry=registry,
        )
        self.registry_unreadable = Counter(
            "webhooks_registry_unreadable_total",
            "Registry records left out: not a valid definition, or a secret that does not open with the master keys.",
            registry=registry,
        )
        # From librdkafka's statistics (KAFKA_STATS_INTERVAL_MS; the aiokafka client reports none). Beside
        # webhooks_received_total{outcome="accepted"} it gives the records per produce request: the broker's CPU
        # goes with the requests more than with the records (docs/performance.md, "What the record key costs").
        self.produce_requests = Counter(
            "webhooks_kafka_produce_requests_total",
            "Produce requests sent to the Kafka brokers (librdkafka's statistics; none with the aiokafka client).",
            registry=registry,
        )
        self.publish_duration = Histogram(
            "webhooks_publish_duration_seconds",
            "Time from handing an event to the Kafka producer to the broker's ack (or the give-up).",
            buckets=_LATENCY_BUCKETS_S,
            registry=registry,
        )
