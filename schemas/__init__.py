"""The wire contract shared by the receiver, the consumers and downstream teams.

Pure data: no module here imports an I/O library.
"""

from schemas.envelope import ENVELOPE_VERSION, Envelope, encode_envelope
from schemas.topics import (
    HEADER_ATTEMPT,
    HEADER_ID,
    HEADER_PROVIDER,
    HEADER_SOURCE,
    HEADER_TRACEPARENT,
    HEADER_TYPE,
    dlq_topic,
    event_topic,
    retry_topic,
)

__all__ = [
    "ENVELOPE_VERSION",
    "HEADER_ATTEMPT",
    "HEADER_ID",
    "HEADER_PROVIDER",
    "HEADER_SOURCE",
    "HEADER_TRACEPARENT",
    "HEADER_TYPE",
    "Envelope",
    "dlq_topic",
    "encode_envelope",
    "event_topic",
    "retry_topic",
]
