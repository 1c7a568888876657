"""Topic and record-header names, defined once.

Downstream teams subscribe to these names and route on these headers, so they are part of the public
contract (docs/contract.md, "Kafka"): change one only on purpose, and everywhere at once.
"""

# Every provider's events land on one topic of this prefix; a source may name another topic.
TOPIC_PREFIX = "webhooks."

# Record headers that let a consumer route without parsing the value (UTF-8 bytes on the wire).
HEADER_ID = "webhook-id"
HEADER_PROVIDER = "webhook-provider"
HEADER_SOURCE = "webhook-source"
HEADER_TYPE = "webhook-type"
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
HEADER_ORIGINAL_TOPIC = "webhook-original-topic"
HEADER_ORIGINAL_PARTITION = "webhook-original-partition"
HEADER_ORIGINAL_OFFSET = "webhook-original-offset"


def event_topic(provider: str) -> str:
    """The default topic a provider's events are published to: `webhooks.<provider>`."""
    return f"{TOPIC_PREFIX}{provider}"


def retry_topic(provider: str, group: str) -> str:
    """A consumer group's retry topic for a provider: `webhooks.<provider>.<group>.retry`."""
    return f"{TOPIC_PREFIX}{provider}.{group}.retry"


def dlq_topic(provider: str, group: str) -> str:
    """A consumer group's dead-letter topic for a provider: `webhooks.<provider>.<group>.dlq`."""
    return f"{TOPIC_PREFIX}{provider}.{group}.dlq"
