"""The AsyncAPI 3.0 document of our topics, generated from the code (`python -m schemas asyncapi`).

One channel per provider's event topic, retry topic and dead-letter topic (the latter two per consumer
group: a `{group}` parameter); one message per provider and topic kind, whose payload is the envelope with
that provider's payload schema and whose headers are the record headers (`webhook-*`, `traceparent`, the
CloudEvents `ce_*`); Kafka bindings (the record key is the event id); and the operations: the receiver
sends to the event topics, the consumer groups receive from the event and retry topics and send to the
retry and dead-letter topics. The JSON Schemas are pydantic's, their `$defs` lifted into
`components/schemas`. The output is deterministic: `make docs` writes it, and a test compares.
"""

from __future__ import annotations

import json
from importlib import metadata
from typing import Any

from pydantic import BaseModel

from schemas.envelope import ENVELOPE_VERSION, Envelope
from schemas.payloads import PAYLOAD_MODELS
from schemas.records import CLOUDEVENTS_SPECVERSION, JSON_MEDIA_TYPE, SOURCE_URI_PREFIX
from schemas.topics import (
    HEADER_ATTEMPT,
    HEADER_CE_ID,
    HEADER_CE_SOURCE,
    HEADER_CE_SPECVERSION,
    HEADER_CE_SUBJECT,
    HEADER_CE_TENANT,
    HEADER_CE_TIME,
    HEADER_CE_TRACEPARENT,
    HEADER_CE_TYPE,
    HEADER_CONTENT_TYPE,
    HEADER_ERROR_CLASS,
    HEADER_ERROR_MESSAGE,
    HEADER_FAILED_HANDLERS,
    HEADER_ID,
    HEADER_NOT_BEFORE,
    HEADER_ORIGINAL_OFFSET,
    HEADER_ORIGINAL_PARTITION,
    HEADER_ORIGINAL_TOPIC,
    HEADER_PROVIDER,
    HEADER_SOURCE,
    HEADER_TENANT,
    HEADER_TRACEPARENT,
    HEADER_TYPE,
    TOPIC_PREFIX,
    dlq_topic,
    event_topic,
    retry_topic,
)

ASYNCAPI_VERSION = "3.0.0"
# The Kafka bindings' version (asyncapi/bindings, `kafka/README.md`).
KAFKA_BINDING_VERSION = "0.5.0"
FILE_NAME = "asyncapi.json"
_GROUP = "{group}"
_TRACEPARENT_PATTERN = "^00-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}$"


def _text(description: str, **extra: Any) -> dict[str, Any]:
    return {"type": "string", "description": description, **extra}


# What the receiver writes on every record (binary mode: a structured-mode source writes the `webhook-*`
# headers and `content-type: application/cloudevents+json`, the attributes inside the value).
EVENT_HEADERS: dict[str, dict[str, Any]] = {
    HEADER_ID: _text("The event id, also the record key."),
    HEADER_PROVIDER: _text("The provider (signature scheme and payload family)."),
    HEADER_SOURCE: _text("The endpoint it came in on, POST /webhooks/<source>."),
    HEADER_TYPE: _text("The provider's event type; empty where it gives none."),
    HEADER_TENANT: _text("The tenant of a run-time registry source that names one; absent otherwise."),
    HEADER_TRACEPARENT: _text("W3C trace context, where the event has one.", pattern=_TRACEPARENT_PATTERN),
    HEADER_CE_SPECVERSION: _text("CloudEvents spec version.", const=CLOUDEVENTS_SPECVERSION),
    HEADER_CE_ID: _text("CloudEvents id: the event id."),
    HEADER_CE_SOURCE: _text(f"CloudEvents source: {SOURCE_URI_PREFIX}<source>.", format="uri"),
    HEADER_CE_TYPE: _text("CloudEvents type: <provider>.<type>, or <provider> where the event has no type."),
    HEADER_CE_TIME: _text(
        "CloudEvents time: when the provider says it happened, else when it was received.", format="date-time"
    ),
    HEADER_CE_SUBJECT: _text("CloudEvents subject, where the provider names one (a repository, a payment)."),
    HEADER_CE_TENANT: _text("CloudEvents extension attribute of ours: the same value as webhook-tenant."),
    HEADER_CE_TRACEPARENT: _text("CloudEvents distributed-tracing extension: the same value as traceparent."),
    HEADER_CONTENT_TYPE: _text("CloudEvents datacontenttype: the value is the envelope.", const=JSON_MEDIA_TYPE),
}
REQUIRED_EVENT_HEADERS = [
    HEADER_ID,
    HEADER_PROVIDER,
    HEADER_SOURCE,
    HEADER_TYPE,
    HEADER_CE_SPECVERSION,
    HEADER_CE_ID,
    HEADER_CE_SOURCE,
    HEADER_CE_TYPE,
    HEADER_CE_TIME,
    HEADER_CONTENT_TYPE,
]
# What a consumer group adds when it sends a record on to its retry or dead-letter topic.
FAILURE_HEADERS: dict[str, dict[str, Any]] = {
    HEADER_ATTEMPT: _text("Retry: the attempt it is for. Dead letter: the attempts made.", pattern="^[0-9]+$"),
    HEADER_NOT_BEFORE: _text("Retry only: not before this time, epoch milliseconds.", pattern="^[0-9]+$"),
    HEADER_ERROR_CLASS: _text("The class of the last error."),
    HEADER_ERROR_MESSAGE: _text("The last error's message, at most 300 characters."),
    HEADER_FAILED_HANDLERS: _text(
        "The handlers that failed the last attempt, by registered name, comma-separated in registration order "
        "(absent where no handler ran: an invalid record)."
    ),
    HEADER_ORIGINAL_TOPIC: _text("The event topic the record was first read from."),
    HEADER_ORIGINAL_PARTITION: _text("Its partition there.", pattern="^[0-9]+$"),
    HEADER_ORIGINAL_OFFSET: _text("Its offset there.", pattern="^[0-9]+$"),
}
_KINDS = {
    "events": "event",
    "retry": "retry",
    "dlq": "dead-letter",
}


def _components_ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _lift(schema: dict[str, Any], into: dict[str, Any]) -> dict[str, Any]:
    """The schema with its `$defs` moved into `into` (components/schemas) and its `$ref`s pointed there."""
    for name, definition in schema.pop("$defs", {}).items():
        definition = _rewrite_refs(definition)
        if into.setdefault(name, definition) != definition:
            raise ValueError(f"two payload models define {name!r} differently")
    return dict(_rewrite_refs(schema))


def _rewrite_refs(node: Any) -> Any:
    if isinstance(node, dict):
        return {
            key: value.replace("#/$defs/", "#/components/schemas/")
            if key == "$ref" and isinstance(value, str)
            else _rewrite_refs(value)
            for key, value in node.items()
        }
    if isinstance(node, list):
        return [_rewrite_refs(item) for item in node]
    return node


def _model_schema(model: type[BaseModel], into: dict[str, Any]) -> dict[str, Any]:
    return _lift(model.model_json_schema(mode="validation"), into)


def _message(provider: str, kind: str, payload_schema: str) -> dict[str, Any]:
    failure = kind != "events"
    headers = "FailureRecordHeaders" if failure else "EventRecordHeaders"
    return {
        "name": f"{provider}.{kind}",
        "title": f"{provider} {_KINDS[kind]} record",
        "summary": f"A {provider} webhook event, as an envelope (CloudEvents binary mode).",
        "contentType": JSON_MEDIA_TYPE,
        "headers": _components_ref(headers),
        "payload": {
            "allOf": [
                _components_ref("Envelope"),
                {"type": "object", "properties": {"payload": _components_ref(payload_schema)}},
            ]
        },
        "correlationId": {"description": "W3C trace context.", "location": f"$message.header#/{HEADER_TRACEPARENT}"},
        "bindings": {
            "kafka": {
                "key": {"type": "string", "description": "The event id."},
                "bindingVersion": KAFKA_BINDING_VERSION,
            }
        },
    }


def _channel(address: str, provider: str, kind: str) -> dict[str, Any]:
    channel: dict[str, Any] = {
        "address": address,
        "title": f"{provider} {_KINDS[kind]}s",
        "messages": {f"{provider}.{kind}": {"$ref": f"#/components/messages/{provider}.{kind}"}},
        "bindings": {"kafka": {"bindingVersion": KAFKA_BINDING_VERSION}},
    }
    if kind == "events":
        channel["description"] = f"Every {provider} event the receiver accepted (a source may name another topic)."
        channel["bindings"]["kafka"]["topic"] = address
    else:
        channel["description"] = f"A consumer group's {_KINDS[kind]}s of {provider} events."
        channel["parameters"] = {"group": {"description": "The consumer group (CONSUMER_GROUP)."}}
    return channel


def _operation(action: str, channel: str, provider: str, kind: str, who: str) -> dict[str, Any]:
    operation: dict[str, Any] = {
        "action": action,
        "channel": {"$ref": f"#/channels/{channel}"},
        "title": f"{who} {action}s {provider} {_KINDS[kind]}s",
        "messages": [{"$ref": f"#/channels/{channel}/messages/{provider}.{kind}"}],
    }
    if action == "receive":
        operation["bindings"] = {
            "kafka": {
                "groupId": {"type": "string", "description": "The consumer group (CONSUMER_GROUP)."},
                "bindingVersion": KAFKA_BINDING_VERSION,
            }
        }
    return operation


def document() -> dict[str, Any]:
    """The AsyncAPI document, as a JSON-ready dict."""
    schemas: dict[str, Any] = {}
    envelope = _model_schema(Envelope, schemas)
    envelope["description"] = f"Envelope v{ENVELOPE_VERSION}: the value of every record (binary mode)."
    schemas["Envelope"] = envelope
    schemas["EventRecordHeaders"] = {
        "type": "object",
        "description": "The headers of every record (binary mode).",
        "properties": EVENT_HEADERS,
        "required": REQUIRED_EVENT_HEADERS,
    }
    schemas["FailureRecordHeaders"] = {
        "type": "object",
        "description": "The headers of a retry or dead-letter record: the event's, and the failure's.",
        "properties": EVENT_HEADERS | FAILURE_HEADERS,
        "required": [*REQUIRED_EVENT_HEADERS, HEADER_ATTEMPT, HEADER_ERROR_CLASS, HEADER_ORIGINAL_TOPIC],
    }
    channels: dict[str, Any] = {}
    messages: dict[str, Any] = {}
    operations: dict[str, Any] = {}
    for provider, model in sorted(PAYLOAD_MODELS.items()):
        payload_schema = f"{model.__name__}"
        lifted = _model_schema(model, schemas)
        if schemas.setdefault(payload_schema, lifted) != lifted:
            raise ValueError(f"two payload models are named {payload_schema!r}")
        addresses = {
            "events": event_topic(provider),
            "retry": retry_topic(provider, _GROUP),
            "dlq": dlq_topic(provider, _GROUP),
        }
        for kind, address in addresses.items():
            channel = f"{provider}.{kind}"
            channels[channel] = _channel(address, provider, kind)
            messages[channel] = _message(provider, kind, payload_schema)
        operations[f"{provider}.events.send"] = _operation("send", f"{provider}.events", provider, "events", "receiver")
        for kind in ("events", "retry"):
            operations[f"{provider}.{kind}.receive"] = _operation(
                "receive", f"{provider}.{kind}", provider, kind, "A consumer group"
            )
        for kind in ("retry", "dlq"):
            operations[f"{provider}.{kind}.send"] = _operation(
                "send", f"{provider}.{kind}", provider, kind, "A consumer group"
            )
    return {
        "asyncapi": ASYNCAPI_VERSION,
        "id": "urn:webhooks:asyncapi",
        "info": {
            "title": "Webhook ingestion topics",
            "version": metadata.version("webhook-ingest"),
            "description": (
                "Verified webhooks from each provider on Kafka topics "
                f"{TOPIC_PREFIX}<provider>, as JSON envelopes with CloudEvents 1.0 headers (binary mode), "
                "and each consumer group's retry and dead-letter topics."
            ),
            "license": {"name": "Apache-2.0"},
        },
        "defaultContentType": JSON_MEDIA_TYPE,
        "servers": {
            "kafka": {
                "host": "localhost:9092",
                "protocol": "kafka",
                "description": "The broker of KAFKA_BOOTSTRAP_SERVERS (make up starts one here).",
            }
        },
        "channels": channels,
        "operations": operations,
        "components": {"schemas": dict(sorted(schemas.items())), "messages": messages},
    }


def render() -> str:
    """The document as the text `make docs` writes (stable key order, a final newline)."""
    return json.dumps(document(), indent=2, ensure_ascii=False) + "\n"
