"""The consumer process's settings, read from the environment once in `__main__` and passed down.

Environment names are the public interface (docs/contract.md, "Configuration"); the `KAFKA_*` ones are the
receiver's too, read and checked by `kafkaconfig.settings`. Field names carry their unit (`lease_ms`, `done_ttl_s`).
"""

from __future__ import annotations

import math
import re
from typing import Annotated, Literal

from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import NoDecode

from consumers.errors import ConfigError
from consumers.windows import RememberWindows
from kafkaconfig.settings import KafkaSettings, describe_errors

# Group and provider names end up in topic names and Redis keys: keep them to characters that are safe
# in both, without `.` (the topic separator) or `:` (the key separator).
_NAME = re.compile(r"^[A-Za-z0-9_-]{1,100}$")
_MODULE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$")

CommaList = Annotated[tuple[str, ...], NoDecode]


class Settings(KafkaSettings):
    """Settings of one consumer-group member; the Kafka ones, and WEBHOOK_MAX_BODY_BYTES, are the receiver's too
    (`KafkaSettings`).

    Build them with `load_settings()`, which turns a validation error into a one-line `ConfigError`.
    """

    redis_url: SecretStr = Field(SecretStr("redis://localhost:6379/0"), validation_alias="REDIS_URL")
    # REDIS_URL names any node of a Redis Cluster; the client finds the others and follows the slots.
    redis_cluster: bool = Field(False, validation_alias="REDIS_CLUSTER")
    # Sentinels (host:port, ...) that know the master of REDIS_SENTINEL_MASTER: the client asks them where the
    # master is, and again after a failover. REDIS_URL then gives only the database and the credentials.
    redis_sentinels: CommaList = Field((), validation_alias="REDIS_SENTINELS")
    redis_sentinel_master: str = Field("mymaster", validation_alias="REDIS_SENTINEL_MASTER")

    consumer_group: str = Field("agents", validation_alias="CONSUMER_GROUP")
    consumer_providers: CommaList = Field(("hmac", "github", "stripe"), validation_alias="CONSUMER_PROVIDERS")
    # No default: a worker without its handlers refuses to start (`consumers.__main__`).
    consumer_handlers: CommaList = Field((), validation_alias="CONSUMER_HANDLERS")
    consumer_metrics_host: str = Field("127.0.0.1", validation_alias="CONSUMER_METRICS_HOST")
    consumer_metrics_port: int = Field(9400, ge=0, le=65535, validation_alias="CONSUMER_METRICS_PORT")
    # A claim outlives a handler run: it is renewed while the handler runs, and expires after a crash.
    consumer_lease_ms: int = Field(60_000, ge=100, validation_alias="CONSUMER_LEASE_MS")
    # How long a handled event is remembered where its provider documents no redelivery window
    # (`consumers.windows`); set on purpose, it applies to every provider without a CONSUMER_DONE_TTLS entry.
    consumer_done_ttl_s: int = Field(604_800, ge=1, validation_alias="CONSUMER_DONE_TTL_S")
    # Remember windows per provider, `stripe=2592000,shopify=86400`, over the documented ones.
    consumer_done_ttls: Annotated[dict[str, int], NoDecode] = Field({}, validation_alias="CONSUMER_DONE_TTLS")
    consumer_handler_timeout_s: float = Field(30.0, gt=0, validation_alias="CONSUMER_HANDLER_TIMEOUT_S")
    consumer_max_attempts: int = Field(5, ge=1, validation_alias="CONSUMER_MAX_ATTEMPTS")
    consumer_retry_backoff_ms: int = Field(1000, ge=0, validation_alias="CONSUMER_RETRY_BACKOFF_MS")
    consumer_max_batch: int = Field(500, ge=1, validation_alias="CONSUMER_MAX_BATCH")
    consumer_concurrency: int = Field(16, ge=1, validation_alias="CONSUMER_CONCURRENCY")
    # Record bytes fetched and not dealt with yet, over every partition: past it the member pauses its partitions
    # until handlers catch up. The count limit alone lets 500 records of 1 MiB per partition pile up.
    consumer_max_inflight_bytes: int = Field(
        128 * 1_048_576, ge=1_048_576, validation_alias="CONSUMER_MAX_INFLIGHT_BYTES"
    )
    # Members of the group that `python -m consumers` runs, each its own process (`supervision.group`). 1 by
    # default, as the receiver: cores are the operator's to hand out, and members beyond the partitions idle.
    consumer_workers: int = Field(1, ge=1, le=64, validation_alias="CONSUMER_WORKERS")
    # On SIGTERM, and before partitions are handed to another member, how long in-flight handlers may run on
    # before they are cancelled and their claims released.
    consumer_shutdown_grace_s: float = Field(20.0, ge=0, validation_alias="CONSUMER_SHUTDOWN_GRACE_S")
    # How long the group waits for a silent member (a crashed process) before giving its partitions to others.
    # The broker's group.min.session.timeout.ms (6 s by default) is the floor.
    consumer_session_timeout_ms: int = Field(10_000, ge=1000, validation_alias="CONSUMER_SESSION_TIMEOUT_MS")
    # A member that does not fetch for this long leaves the group. The worker fetches all the time (a partition
    # with work in flight is paused, not left unpolled), so a slow handler never gets near it.
    consumer_max_poll_interval_ms: int = Field(300_000, ge=1000, validation_alias="CONSUMER_MAX_POLL_INTERVAL_MS")

    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"] = Field("INFO", validation_alias="LOG_LEVEL")
    # One JSON object per line (for log pipelines), or text (for a terminal).
    log_format: Literal["json", "text"] = Field("json", validation_alias="LOG_FORMAT")

    @field_validator("redis_sentinels")
    @classmethod
    def _check_sentinels(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for address in value:
            host, _, port = address.rpartition(":")
            if not host or not port.isdigit() or not 0 < int(port) < 65536:
                raise ValueError(f"{address!r} is no host:port")
        return value

    @field_validator("consumer_providers", "consumer_handlers", "redis_sentinels", mode="before")
    @classmethod
    def _split_commas(cls, value: object) -> object:
        if isinstance(value, str):
            return tuple(part.strip() for part in value.split(",") if part.strip())
        return value

    @field_validator("consumer_done_ttls", mode="before")
    @classmethod
    def _split_windows(cls, value: object) -> object:
        if not isinstance(value, str):
            return value
        windows: dict[str, object] = {}
        for part in (part.strip() for part in value.split(",")):
            if part:
                name, sep, seconds = part.partition("=")
                if not sep:
                    raise ValueError(f"{part!r} is no <provider>=<seconds> pair")
                windows[name.strip()] = seconds.strip()
        return windows

    @field_validator("consumer_done_ttls")
    @classmethod
    def _check_windows(cls, value: dict[str, int]) -> dict[str, int]:
        for name, seconds in value.items():
            if not _NAME.match(name):
                raise ValueError(f"{name!r} is no provider name (letters, digits, '_' or '-')")
            if seconds < 1:
                raise ValueError(f"the window of {name} must be at least 1 second")
        return value

    def remember_windows(self) -> RememberWindows:
        """How long each provider's handled events are remembered."""
        documented = "consumer_done_ttl_s" not in self.model_fields_set
        return RememberWindows.build(self.consumer_done_ttl_s, self.consumer_done_ttls, documented=documented)

    @field_validator("log_level", mode="before")
    @classmethod
    def _upper_level(cls, value: object) -> object:
        if isinstance(value, str):
            return value.strip().upper() or None
        return value

    @field_validator("consumer_group")
    @classmethod
    def _check_group(cls, value: str) -> str:
        if not _NAME.match(value):
            raise ValueError("must be 1-100 characters of letters, digits, '_' or '-'")
        return value

    @field_validator("consumer_providers")
    @classmethod
    def _check_providers(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        if not value:
            raise ValueError("must name at least one provider")
        for name in value:
            if not _NAME.match(name):
                raise ValueError(f"{name!r} is no provider name (letters, digits, '_' or '-')")
        return tuple(dict.fromkeys(value))

    @field_validator("consumer_handlers")
    @classmethod
    def _check_handlers(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for name in value:
            if not _MODULE.match(name):
                raise ValueError(f"{name!r} is no importable module path")
        return tuple(dict.fromkeys(value))

    @model_validator(mode="after")
    def _check_together(self) -> Settings:
        if self.redis_cluster and self.redis_sentinels:
            raise ValueError("REDIS_CLUSTER and REDIS_SENTINELS don't go together: a cluster fails over by itself")
        if self.consumer_lease_ms < least_lease_ms(self.consumer_handler_timeout_s):
            raise ValueError("CONSUMER_LEASE_MS must be at least a tenth of CONSUMER_HANDLER_TIMEOUT_S")
        return self


def least_lease_ms(timeout_s: float) -> int:
    """The shortest claim lease (`CONSUMER_LEASE_MS`) a handler timeout allows: a tenth of it.

    The lease is renewed a third of a lease apart while a handler runs, so a run may outlast it; a lease far
    shorter than a run is a typo (milliseconds read as seconds), and one renewal late (the event loop held, a slow
    Redis call) would lose the claim.
    """
    return math.ceil(timeout_s * 1000 / 10)


def load_settings(**overrides: object) -> Settings:
    """Read the settings from the environment (and `overrides`, by field name).

    Raises:
        ConfigError: one line naming the variable and what is wrong with it (never its value).
    """
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        raise ConfigError(describe_errors(exc, Settings)) from None


def describe_invalid(exc: ValidationError) -> str:
    """One line naming each invalid variable and what is wrong with it, never its value."""
    return "invalid configuration: " + describe_errors(exc)
