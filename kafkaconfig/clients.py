"""The connection `KafkaSettings` describe, in the words of each client library both processes use."""

from __future__ import annotations

import logging
import ssl
from typing import Any

from kafkaconfig.settings import KafkaSettings


def aiokafka_options(settings: KafkaSettings) -> dict[str, Any]:
    """Bootstrap, TLS and SASL options of an aiokafka producer, consumer or admin client."""
    options: dict[str, Any] = {
        "bootstrap_servers": settings.kafka_bootstrap_servers,
        "security_protocol": settings.kafka_security_protocol,
    }
    if settings.kafka_security_protocol in ("SSL", "SASL_SSL"):
        # KAFKA_SSL_CAFILE, else the system's CA bundle, as for any TLS client (librdkafka does the same).
        cafile = settings.kafka_ssl_cafile
        options["ssl_context"] = ssl.create_default_context(cafile=str(cafile) if cafile is not None else None)
    if settings.kafka_sasl_mechanism is not None:
        options["sasl_mechanism"] = settings.kafka_sasl_mechanism
        options["sasl_plain_username"] = settings.kafka_sasl_username
        options["sasl_plain_password"] = _password(settings)
    return options


def aiokafka_compression(settings: KafkaSettings) -> str | None:
    """An aiokafka producer's `compression_type` for `KAFKA_COMPRESSION` (None: uncompressed)."""
    return None if settings.kafka_compression == "none" else settings.kafka_compression


def librdkafka_config(settings: KafkaSettings, *, client_id: str) -> dict[str, Any]:
    """The same as librdkafka configuration (confluent-kafka's producer and admin client)."""
    config: dict[str, Any] = {
        "bootstrap.servers": settings.kafka_bootstrap_servers,
        "security.protocol": settings.kafka_security_protocol,
        "client.id": client_id,
        # librdkafka's own log lines go through logging rather than to stderr.
        "logger": logging.getLogger("librdkafka"),
    }
    if settings.kafka_ssl_cafile is not None:
        config["ssl.ca.location"] = str(settings.kafka_ssl_cafile)
    if settings.kafka_sasl_mechanism is not None:
        config["sasl.mechanism"] = settings.kafka_sasl_mechanism
        config["sasl.username"] = settings.kafka_sasl_username
        config["sasl.password"] = _password(settings)
    return config


def librdkafka_producer_config(settings: KafkaSettings, *, client_id: str) -> dict[str, Any]:
    """`librdkafka_config` and what only a producer takes (a consumer would log each as ignored)."""
    return {**librdkafka_config(settings, client_id=client_id), "compression.type": settings.kafka_compression}


def _password(settings: KafkaSettings) -> str | None:
    password = settings.kafka_sasl_password
    return password.get_secret_value() if password is not None else None
