"""The settings both processes read to reach Kafka and size its records (docs/contract.md, "Configuration")."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field, FilePath, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class KafkaSettings(BaseSettings):
    """The `KAFKA_*` variables and the largest body, read and checked the same way by every process.

    The receiver's and the consumers' settings extend it; environment names are the aliases, and field names
    work too, for code that builds settings directly.
    """

    model_config = SettingsConfigDict(extra="forbid", validate_by_name=True, validate_by_alias=True, frozen=True)

    kafka_bootstrap_servers: str = Field("localhost:9092", min_length=1, validation_alias="KAFKA_BOOTSTRAP_SERVERS")
    kafka_security_protocol: Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"] = Field(
        "PLAINTEXT", validation_alias="KAFKA_SECURITY_PROTOCOL"
    )
    kafka_sasl_mechanism: Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"] | None = Field(
        None, validation_alias="KAFKA_SASL_MECHANISM"
    )
    kafka_sasl_username: str | None = Field(None, validation_alias="KAFKA_SASL_USERNAME")
    kafka_sasl_password: SecretStr | None = Field(None, validation_alias="KAFKA_SASL_PASSWORD")
    # A CA bundle for SSL/SASL_SSL, where the brokers' certificates are not signed by a public CA. Checked at
    # start: a missing file would otherwise stop the process only when it first connects.
    kafka_ssl_cafile: FilePath | None = Field(None, validation_alias="KAFKA_SSL_CAFILE")
    kafka_topic_partitions: int = Field(6, ge=1, le=10_000, validation_alias="KAFKA_TOPIC_PARTITIONS")
    kafka_replication_factor: int = Field(1, ge=1, le=32, validation_alias="KAFKA_REPLICATION_FACTOR")
    # The receiver's per-partition producer batch; also sizes the topics' max.message.bytes (a batch is one
    # message to the broker), so the consumers read it too.
    kafka_batch_bytes: int = Field(1_048_576, ge=16_384, le=16 * 1_048_576, validation_alias="KAFKA_BATCH_BYTES")
    # How every producer of ours compresses its batches. lz4 stores a GitHub body in a fifth of its bytes and
    # saves the broker a quarter to a half of its CPU per record, but a consumer's denser fetches more than double
    # its peak memory (docs/performance.md, "Compressed batches"): measured both ways, so off by default.
    kafka_compression: Literal["none", "gzip", "snappy", "lz4", "zstd"] = Field(
        "none", validation_alias="KAFKA_COMPRESSION"
    )
    # The largest body the receiver accepts. A consumer writes any event again (retry, dead letter): both size
    # their records and topics from it.
    max_body_bytes: int = Field(1_048_576, ge=1, le=64 * 1_048_576, validation_alias="WEBHOOK_MAX_BODY_BYTES")

    @field_validator("kafka_security_protocol", "kafka_sasl_mechanism", mode="before")
    @classmethod
    def _upper(cls, value: object) -> object:
        # Kafka's own clients take these in any case (`sasl_ssl`).
        if isinstance(value, str):
            return value.strip().upper() or None
        return value

    @field_validator("kafka_compression", mode="before")
    @classmethod
    def _lower(cls, value: object) -> object:
        # The same for codec names (`LZ4`).
        return value.strip().lower() if isinstance(value, str) else value

    @model_validator(mode="after")
    def _check_sasl(self) -> KafkaSettings:
        # Refused here rather than at the first connect, which would fail the same way much later.
        if self.kafka_security_protocol.startswith("SASL_") and self.kafka_sasl_mechanism is None:
            raise ValueError("KAFKA_SASL_MECHANISM is required with a SASL_* KAFKA_SECURITY_PROTOCOL")
        if self.kafka_sasl_mechanism is not None and (
            self.kafka_sasl_username is None or self.kafka_sasl_password is None
        ):
            raise ValueError("KAFKA_SASL_USERNAME and KAFKA_SASL_PASSWORD are required with KAFKA_SASL_MECHANISM")
        return self


def describe_errors(exc: ValidationError, model: type[BaseModel] | None = None) -> str:
    """One line for all that is wrong with a process's settings: each variable by its environment name (the
    alias of `model`'s field, else the field's name), with what is wrong with it, never its value (it may be a
    secret)."""
    fields = model.model_fields if model is not None else {}
    problems = []
    for error in exc.errors(include_url=False, include_input=False, include_context=False):
        first, *rest = [str(part) for part in error["loc"]] or [""]
        field = fields.get(first)
        if field is not None and isinstance(field.validation_alias, str):
            first = field.validation_alias
        name = ".".join([first, *rest]).upper()
        message = error["msg"].removeprefix("Value error, ")
        problems.append(f"{name}: {message}" if name else message)
    return "; ".join(problems)
