"""The receiver's settings, from the environment (docs/contract.md, "Configuration").

Secrets per source (`WEBHOOK_SECRET_<SOURCE>`) have open-ended names, so `sources.py` reads them; every
other setting is a field here, with its unit in its name.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, ValidationError, model_validator

from kafkaconfig.settings import KafkaSettings, describe_errors
from receiver.errors import ConfigError


class ReceiverSettings(KafkaSettings):
    """The receiver's settings; the Kafka ones, and WEBHOOK_MAX_BODY_BYTES, are the consumers' too (`KafkaSettings`)."""

    host: str = Field("127.0.0.1", validation_alias="RECEIVER_HOST")
    port: int = Field(8000, ge=0, le=65535, validation_alias="RECEIVER_PORT")
    # Processes serving the port (supervisor.py). 1 by default: one process per container is what
    # orchestrators scale and limit, and a container's CPU quota is not visible in its core count, so
    # guessing N from the machine would overcommit. Set it to the cores you give the receiver.
    workers: int = Field(1, ge=1, le=64, validation_alias="RECEIVER_WORKERS")
    # Opt-in: with one worker per CPU the process may run on (its affinity set: a cpuset, or the whole machine),
    # each worker pinned to its own CPU, librdkafka's threads with it (supervisor.py). Measured both ways
    # (docs/performance.md, "Pinned workers"), so off by default.
    pin_workers: bool = Field(False, validation_alias="RECEIVER_PIN_WORKERS")
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = Field("INFO", validation_alias="LOG_LEVEL")
    # One JSON object per line (for log pipelines), or text (for a terminal).
    log_format: Literal["json", "text"] = Field("json", validation_alias="LOG_FORMAT")

    # librdkafka runs batching and network I/O off the event loop; aiokafka is the pure-Python fallback.
    kafka_client: Literal["librdkafka", "aiokafka"] = Field("librdkafka", validation_alias="RECEIVER_KAFKA_CLIENT")
    # How long the producer gathers records into one batch: fewer, fuller produce requests cost the broker
    # and the delivery-report polling less CPU than 0, and more than 2 ms adds latency for little throughput.
    kafka_linger_ms: int = Field(2, ge=0, le=1000, validation_alias="KAFKA_LINGER_MS")
    # How often librdkafka reports its statistics, of which `webhooks_kafka_produce_requests_total` is read:
    # records per produce request is what the broker's CPU follows (docs/performance.md). 0: no statistics.
    kafka_stats_interval_ms: int = Field(10_000, ge=0, le=3_600_000, validation_alias="KAFKA_STATS_INTERVAL_MS")

    # Signed timestamps further than this from now, either way, are refused (replay window).
    tolerance_s: int = Field(300, ge=1, le=86_400, validation_alias="WEBHOOK_TOLERANCE_SECONDS")
    sources_file: Path | None = Field(None, validation_alias="WEBHOOK_SOURCES_FILE")
    # The run-time source registry (receiver/registry/): on when a master key is set, which its secrets need.
    master_keys: SecretStr | None = Field(None, validation_alias="WEBHOOK_MASTER_KEYS")
    master_keys_file: Path | None = Field(None, validation_alias="WEBHOOK_MASTER_KEYS_FILE")
    registry_topic: str = Field(
        "_webhooks-sources", pattern=r"^[A-Za-z0-9._-]{1,249}$", validation_alias="WEBHOOK_REGISTRY_TOPIC"
    )
    # Tenants whose registry sources get a `source` label of their own on the metrics (the tenant's name);
    # every other registry source is counted as `registry`, so Prometheus holds a bounded set of series.
    metrics_tenants: str = Field("", pattern=r"^[a-z0-9_,-]{0,4096}$", validation_alias="WEBHOOK_METRICS_TENANTS")
    # The longest a sender may take to deliver its whole body: a slow-loris sender can't hold a connection
    # (and its buffer) open for longer. Seconds, measured from the start of the body read.
    body_timeout_s: float = Field(10.0, gt=0, le=600, validation_alias="RECEIVER_BODY_TIMEOUT_S")
    # uvicorn's httptools parser reads headers of any size; providers send a few KiB at most.
    max_header_bytes: int = Field(65_536, ge=1024, le=16 * 1_048_576, validation_alias="RECEIVER_MAX_HEADER_BYTES")
    # Bodies are read whole before their signature is checked: together, the requests not yet verified hold
    # at most this many bytes per process, and one that doesn't fit gets a 503 + Retry-After (routes.py).
    max_pending_bytes: int = Field(
        64 * 1_048_576, ge=1, le=16 * 1024 * 1_048_576, validation_alias="RECEIVER_MAX_PENDING_BYTES"
    )

    # The longest a sender waits for Kafka's ack before a 503; under Slack's 3 s delivery timeout.
    publish_timeout_ms: int = Field(2500, ge=10, le=60_000, validation_alias="RECEIVER_PUBLISH_TIMEOUT_MS")
    # What a 503 tells the sender to wait before retrying.
    retry_after_s: int = Field(5, ge=0, le=3600, validation_alias="RECEIVER_RETRY_AFTER_S")

    @property
    def labelled_tenants(self) -> frozenset[str]:
        return frozenset(name for name in self.metrics_tenants.split(",") if name)

    @model_validator(mode="after")
    def _one_body_fits_the_budget(self) -> ReceiverSettings:
        if self.max_pending_bytes < self.max_body_bytes:
            raise ValueError("RECEIVER_MAX_PENDING_BYTES must be at least WEBHOOK_MAX_BODY_BYTES")
        if self.master_keys is not None and self.master_keys_file is not None:
            raise ValueError("set WEBHOOK_MASTER_KEYS or WEBHOOK_MASTER_KEYS_FILE, not both")
        return self


def load_settings() -> ReceiverSettings:
    """Settings from the environment; a bad value is a `ConfigError` naming the variable."""
    try:
        return ReceiverSettings()
    except ValidationError as exc:
        raise ConfigError(describe_errors(exc, ReceiverSettings)) from None


def describe_validation_error(exc: ValidationError) -> str:
    """One line per wrong value, naming where it came from and never echoing it (it may be a secret)."""
    problems = []
    for error in exc.errors(include_input=False, include_url=False):
        where = ".".join(str(part) for part in error["loc"]) or "settings"
        problems.append(f"{where}: {error['msg']}")
    return "; ".join(problems)
