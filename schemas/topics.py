"""Topic and record-header names, defined once.

Downstream teams subscribe to these names and route on these headers, so they are part of the public
contract (docs/contract.md, "Kafka"): change one only on purpose, and everywhere at once.
"""

from __future__ import annotations

from dataclasses import dataclass

# Every provider's events land on one topic of this prefix; a source may name another topic.
TOPIC_PREFIX = "webhooks."

# Record headers that let a consumer route without parsing the value (UTF-8 bytes on the wire).
HEADER_ID = "webhook-id"
HEADER_PROVIDER = "webhook-provider"
HEADER_SOURCE = "webhook-source"
HEADER_TYPE = "webhook-type"
# The tenant of a registry source that names one (absent otherwise): consumers can route or filter per
# tenant without parsing the value.
HEADER_TENANT = "webhook-tenant"
# The W3C trace context (the sender's, or the receiver's span when tracing is on): carried to the handlers
# and through retries.
HEADER_TRACEPARENT = "traceparent"

# CloudEvents 1.0, Kafka protocol binding: the event's attributes as `ce_` headers (binary mode), so a
# CloudEvents SDK (Dapr, Knative, Argo Events) reads our records as they are; the value stays the envelope.
HEADER_CE_SPECVERSION = "ce_specversion"
HEADER_CE_ID = "ce_id"
HEADER_CE_SOURCE = "ce_source"
HEADER_CE_TYPE = "ce_type"
HEADER_CE_TIME = "ce_time"
HEADER_CE_SUBJECT = "ce_subject"
# An extension attribute of ours (CloudEvents allows any lower-case name): the tenant, where there is one.
HEADER_CE_TENANT = "ce_tenant"
# The distributed-tracing extension's attribute: the same value as `traceparent`.
HEADER_CE_TRACEPARENT = "ce_traceparent"
# The binding's `datacontenttype`: `application/json` (binary mode) or `application/cloudevents+json`
# (structured mode: the value is the whole CloudEvent, the envelope its `data`).
HEADER_CONTENT_TYPE = "content-type"

# Headers a consumer group adds to records it sends to its retry and dead-letter topics.
HEADER_ATTEMPT = "webhook-attempt"
HEADER_NOT_BEFORE = "webhook-not-before-ms"
HEADER_ERROR_CLASS = "webhook-error-class"
HEADER_ERROR_MESSAGE = "webhook-error-message"
# The registered names of the handlers that failed that attempt, comma-separated, in registration order.
HEADER_FAILED_HANDLERS = "webhook-failed-handlers"
HEADER_ORIGINAL_TOPIC = "webhook-original-topic"
HEADER_ORIGINAL_PARTITION = "webhook-original-partition"
HEADER_ORIGINAL_OFFSET = "webhook-original-offset"

# Room around the largest accepted body (`WEBHOOK_MAX_BODY_BYTES`) in a record: the envelope's own fields and
# the headers kept from the request.
RECORD_OVERHEAD_BYTES = 64 * 1024
# Room for the headers a consumer adds to a retry or dead-letter record (an error message of at most 300
# characters, and a few numbers).
RETRY_HEADERS_BYTES = 4 * 1024


def max_record_bytes(max_body_bytes: int) -> int:
    """The largest record the receiver writes for a body limit."""
    return max_body_bytes + RECORD_OVERHEAD_BYTES


def max_retry_record_bytes(max_body_bytes: int) -> int:
    """The largest record a consumer writes to a retry or dead-letter topic: any event the receiver wrote,
    with the retry headers."""
    return max_record_bytes(max_body_bytes) + RETRY_HEADERS_BYTES


def max_message_bytes(max_body_bytes: int, batch_bytes: int) -> int:
    """The `max.message.bytes` every webhooks topic gets, whichever process creates it: the largest record or
    a full producer batch (`KAFKA_BATCH_BYTES`: a batch counts as one message), whichever is larger."""
    return max(batch_bytes, max_retry_record_bytes(max_body_bytes))


# The last part of a dead-letter topic's name.
DLQ_SUFFIX = "dlq"
# How long a dead letter is kept, in ms (30 days): time to see the alert, fix the cause and replay. The broker's
# default (7 days) would let an unreplayed dead letter disappear silently.
DLQ_RETENTION_MS = 30 * 24 * 3600 * 1000


def min_insync_replicas(replication_factor: int) -> int:
    """The `min.insync.replicas` of the topics either process creates: 2 from three replicas up, so that an
    acknowledged record is on two brokers whatever the broker's default; below that every replica would be
    needed for a write, so 1."""
    return 2 if replication_factor >= 3 else 1


def event_topic(provider: str) -> str:
    """The default topic a provider's events are published to: `webhooks.<provider>`."""
    return f"{TOPIC_PREFIX}{provider}"


def retry_topic(provider: str, group: str) -> str:
    """A consumer group's retry topic for a provider: `webhooks.<provider>.<group>.retry`."""
    return f"{TOPIC_PREFIX}{provider}.{group}.retry"


def dlq_topic(provider: str, group: str) -> str:
    """A consumer group's dead-letter topic for a provider: `webhooks.<provider>.<group>.dlq`."""
    return f"{TOPIC_PREFIX}{provider}.{group}.{DLQ_SUFFIX}"


def is_dlq_topic(topic: str) -> bool:
    """Whether a topic name is a dead-letter topic's."""
    return topic.endswith(f".{DLQ_SUFFIX}")


@dataclass(frozen=True, slots=True)
class GroupTopics:
    """The topics a consumer group reads and writes for one provider.

    Attributes:
        provider: the provider, as used in metrics labels and idempotency keys.
        topic: the event topic it reads.
        retry_topic: its retry topic (it reads it too).
        dlq_topic: its dead-letter topic.
    """

    provider: str
    topic: str
    retry_topic: str
    dlq_topic: str

    @classmethod
    def for_provider(cls, provider: str, group: str) -> GroupTopics:
        """The standard topics of docs/contract.md, "Kafka"."""
        return cls(provider, event_topic(provider), retry_topic(provider, group), dlq_topic(provider, group))
