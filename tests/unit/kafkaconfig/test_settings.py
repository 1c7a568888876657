"""The Kafka settings both processes read: the same variables, refused the same way, mapped the same way."""

from __future__ import annotations

import os
import ssl
import subprocess
import sys
from pathlib import Path

import pytest

from consumers.errors import ConfigError as ConsumerConfigError
from consumers.settings import load_settings as consumer_settings
from kafkaconfig.clients import aiokafka_compression, aiokafka_options, librdkafka_config, librdkafka_producer_config
from kafkaconfig.settings import KafkaSettings
from receiver.errors import ConfigError as ReceiverConfigError
from receiver.settings import load_settings as receiver_settings

ROOT = Path(__file__).resolve().parents[3]
SASL = {"KAFKA_SASL_MECHANISM": "SCRAM-SHA-512", "KAFKA_SASL_USERNAME": "svc", "KAFKA_SASL_PASSWORD": "hunter2"}


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.startswith(("KAFKA_", "WEBHOOK_", "RECEIVER_", "CONSUMER_", "REDIS_", "LOG_")):
            monkeypatch.delenv(name)


def refusals(monkeypatch: pytest.MonkeyPatch, env: dict[str, str]) -> tuple[str, str]:
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(ReceiverConfigError) as receiver:
        receiver_settings()
    with pytest.raises(ConsumerConfigError) as consumer:
        consumer_settings()
    return str(receiver.value), str(consumer.value)


@pytest.mark.parametrize(
    ("env", "line"),
    [
        (
            {"KAFKA_SECURITY_PROTOCOL": "SASL_SSL"},
            "KAFKA_SASL_MECHANISM is required with a SASL_* KAFKA_SECURITY_PROTOCOL",
        ),
        (
            {"KAFKA_SECURITY_PROTOCOL": "sasl_plaintext"},
            "KAFKA_SASL_MECHANISM is required with a SASL_* KAFKA_SECURITY_PROTOCOL",
        ),
        (
            {"KAFKA_SECURITY_PROTOCOL": "SASL_SSL", "KAFKA_SASL_MECHANISM": "PLAIN", "KAFKA_SASL_PASSWORD": "hunter2"},
            "KAFKA_SASL_USERNAME and KAFKA_SASL_PASSWORD are required with KAFKA_SASL_MECHANISM",
        ),
        (
            {"KAFKA_SECURITY_PROTOCOL": "TLS"},
            "KAFKA_SECURITY_PROTOCOL: Input should be 'PLAINTEXT', 'SSL', 'SASL_PLAINTEXT' or 'SASL_SSL'",
        ),
        (
            {"KAFKA_SASL_MECHANISM": "GSSAPI"},
            "KAFKA_SASL_MECHANISM: Input should be 'PLAIN', 'SCRAM-SHA-256' or 'SCRAM-SHA-512'",
        ),
        ({"KAFKA_BOOTSTRAP_SERVERS": ""}, "KAFKA_BOOTSTRAP_SERVERS: String should have at least 1 character"),
        ({"KAFKA_TOPIC_PARTITIONS": "0"}, "KAFKA_TOPIC_PARTITIONS: Input should be greater than or equal to 1"),
        ({"KAFKA_REPLICATION_FACTOR": "33"}, "KAFKA_REPLICATION_FACTOR: Input should be less than or equal to 32"),
        ({"KAFKA_BATCH_BYTES": "1024"}, "KAFKA_BATCH_BYTES: Input should be greater than or equal to 16384"),
        ({"WEBHOOK_MAX_BODY_BYTES": "0"}, "WEBHOOK_MAX_BODY_BYTES: Input should be greater than or equal to 1"),
        ({"KAFKA_SSL_CAFILE": "/nonexistent/ca.pem"}, "KAFKA_SSL_CAFILE: Path does not point to a file"),
        (
            {"KAFKA_COMPRESSION": "brotli"},
            "KAFKA_COMPRESSION: Input should be 'none', 'gzip', 'snappy', 'lz4' or 'zstd'",
        ),
    ],
)
def test_receiver_and_consumers_refuse_a_bad_kafka_setting_with_the_same_line(
    monkeypatch: pytest.MonkeyPatch, env: dict[str, str], line: str
) -> None:
    receiver, consumer = refusals(monkeypatch, env)

    assert receiver == consumer == line
    assert "hunter2" not in receiver


@pytest.mark.parametrize("protocol", ["sasl_ssl", "SASL_SSL", " Sasl_Ssl "])
def test_receiver_and_consumers_take_a_sasl_protocol_in_any_case(
    monkeypatch: pytest.MonkeyPatch, protocol: str
) -> None:
    for name, value in {**SASL, "KAFKA_SECURITY_PROTOCOL": protocol, "KAFKA_SASL_MECHANISM": "scram-sha-512"}.items():
        monkeypatch.setenv(name, value)

    receiver, consumer = receiver_settings(), consumer_settings()

    assert (receiver.kafka_security_protocol, receiver.kafka_sasl_mechanism) == ("SASL_SSL", "SCRAM-SHA-512")
    assert (consumer.kafka_security_protocol, consumer.kafka_sasl_mechanism) == ("SASL_SSL", "SCRAM-SHA-512")


def test_both_processes_read_every_kafka_variable_alike(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    cafile = tmp_path / "ca.pem"
    cafile.write_text("not read here")
    env = {
        **SASL,
        "KAFKA_BOOTSTRAP_SERVERS": "k1:9093,k2:9093",
        "KAFKA_SECURITY_PROTOCOL": "SASL_SSL",
        "KAFKA_SSL_CAFILE": str(cafile),
        "KAFKA_TOPIC_PARTITIONS": "12",
        "KAFKA_REPLICATION_FACTOR": "3",
        "KAFKA_BATCH_BYTES": "2097152",
        "WEBHOOK_MAX_BODY_BYTES": "4194304",
        "KAFKA_COMPRESSION": "ZSTD",
    }
    for name, value in env.items():
        monkeypatch.setenv(name, value)

    shared = set(KafkaSettings.model_fields)
    receiver = receiver_settings().model_dump(include=shared)
    consumer = consumer_settings().model_dump(include=shared)

    assert receiver == consumer
    assert {field.validation_alias for field in KafkaSettings.model_fields.values()} == set(env)


def test_the_client_libraries_get_the_same_connection(tmp_path: Path) -> None:
    cafile = tmp_path / "ca.pem"
    cafile.write_text("")
    sasl = {"kafka_sasl_mechanism": "PLAIN", "kafka_sasl_username": "svc", "kafka_sasl_password": "hunter2"}
    settings = KafkaSettings(kafka_bootstrap_servers="k1:9093", kafka_security_protocol="SASL_SSL", **sasl)  # type: ignore[arg-type]

    aiokafka = aiokafka_options(settings)
    # No KAFKA_SSL_CAFILE: the system's CA bundle, as for any TLS client.
    assert isinstance(aiokafka.pop("ssl_context"), ssl.SSLContext)
    assert aiokafka == {
        "bootstrap_servers": "k1:9093",
        "security_protocol": "SASL_SSL",
        "sasl_mechanism": "PLAIN",
        "sasl_plain_username": "svc",
        "sasl_plain_password": "hunter2",
    }
    rdkafka = librdkafka_config(settings.model_copy(update={"kafka_ssl_cafile": cafile}), client_id="webhooks-test")
    assert rdkafka.pop("logger").name == "librdkafka"
    assert rdkafka == {
        "bootstrap.servers": "k1:9093",
        "security.protocol": "SASL_SSL",
        "client.id": "webhooks-test",
        "ssl.ca.location": str(cafile),
        "sasl.mechanism": "PLAIN",
        "sasl.username": "svc",
        "sasl.password": "hunter2",
    }


def test_plaintext_needs_no_tls_nor_sasl_options() -> None:
    settings = KafkaSettings(kafka_bootstrap_servers="k1:9092")

    assert aiokafka_options(settings) == {"bootstrap_servers": "k1:9092", "security_protocol": "PLAINTEXT"}
    assert set(librdkafka_config(settings, client_id="x")) == {
        "bootstrap.servers",
        "security.protocol",
        "client.id",
        "logger",
    }


@pytest.mark.parametrize("module", ["receiver", "consumers"])
def test_either_process_stops_at_start_on_sasl_without_a_mechanism(module: str) -> None:
    done = subprocess.run(
        [sys.executable, "-m", module],
        cwd=ROOT,
        env={"PATH": os.environ.get("PATH", ""), "KAFKA_SECURITY_PROTOCOL": "SASL_SSL", "WEBHOOK_SECRET_HMAC": "k"},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )

    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        f"{module}: configuration error: KAFKA_SASL_MECHANISM is required with a SASL_* KAFKA_SECURITY_PROTOCOL"
    ]


@pytest.mark.parametrize(
    ("value", "aiokafka", "librdkafka"),
    [(None, None, "none"), ("LZ4", "lz4", "lz4"), (" zstd ", "zstd", "zstd"), ("none", None, "none")],
)
def test_producers_compress_as_kafka_compression_says(
    monkeypatch: pytest.MonkeyPatch, value: str | None, aiokafka: str | None, librdkafka: str
) -> None:
    if value is not None:
        monkeypatch.setenv("KAFKA_COMPRESSION", value)

    settings = receiver_settings()

    assert aiokafka_compression(settings) == aiokafka
    assert librdkafka_producer_config(settings, client_id="x")["compression.type"] == librdkafka
    # A consumer's configuration leaves it out: librdkafka would log it as a producer property it ignores.
    assert "compression.type" not in librdkafka_config(settings, client_id="x")
