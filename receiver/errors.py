"""The receiver's exceptions, one tree.

    ReceiverError
    ├── ConfigError                  bad settings or sources file: start-up stops with the message
    ├── RegistryError                a `webhooks sources` command refused its input; nothing was changed
    ├── SealError                    a registry secret does not open (no such master key, or altered)
    ├── RegistryUnavailable          Kafka did not answer the registry's reads or writes
    └── RequestError                 a request is refused; `status_code` and `code` are what the sender sees
        ├── UnknownSource            404 unknown_source
        ├── SignatureError           401 invalid_signature, reason bad_signature (no secret signed it)
        │   ├── MissingHeader        401 invalid_signature, reason missing_header
        │   ├── UnknownKey           401 invalid_signature, reason bad_signature (the provider has no such key)
        │   ├── MalformedHeader      401 invalid_signature, reason malformed_header (unparseable value)
        │   │   └── UntrustedKeyUrl  401 invalid_signature, reason malformed_header (key URL not allowlisted)
        │   └── StaleTimestamp       401 stale_timestamp, reason stale_timestamp (signed time too old)
        │       └── FutureTimestamp  401 stale_timestamp, reason future_timestamp (signed time too far ahead)
        ├── HandshakeRefused         403 forbidden (a handshake naming another verify token)
        ├── BodyTooLarge             413 too_large
        ├── HeadersTooLarge          431 headers_too_large (over RECEIVER_MAX_HEADER_BYTES)
        ├── BodyTimeout              408 timeout (the body did not arrive within RECEIVER_BODY_TIMEOUT_S)
        ├── UnsupportedMediaType     415 unsupported_media_type
        ├── BadRequest               400 bad_request (malformed JSON, no event id where one is required)
        ├── RateLimited              429 rate_limited + Retry-After (over the source's rate)
        ├── MethodNotAllowed         405 method_not_allowed (answered by the route itself, with `Allow`)
        └── Unavailable              503 unavailable (Kafka can't take it, or the ack didn't come in time)
            ├── KeyUnavailable       503 unavailable (a provider's signing key could not be fetched)
            └── Overloaded           503 unavailable, outcome overloaded (over RECEIVER_MAX_PENDING_BYTES)

`routes.py` turns a `RequestError` into its response in exactly one place, and `app.py` documents the
responses (OpenAPI) from this tree: a class's docstring is what the document says of its status. A
`SignatureError`'s `reason` is for operators only (`webhooks_signature_failures_total{reason}`); the sender
sees just `code`, so a forger learns nothing from it. Messages never carry a secret or a body: they are safe
to log.
"""

from __future__ import annotations

from typing import Any, ClassVar


class ReceiverError(Exception):
    """Root of everything the receiver raises on purpose."""


class ConfigError(ReceiverError):
    """A setting, secret or sources file is wrong; the message names it."""


class RegistryError(ReceiverError):
    """A `webhooks sources` command can't do what it was asked; the message is its one line of output."""


class SealError(ReceiverError):
    """A sealed secret of the registry does not open: sealed under a master key not configured, or altered."""


class RegistryUnavailable(ReceiverError):
    """Kafka could not be reached, or refused, while reading or writing the source registry."""


class RequestError(ReceiverError):
    """A request the receiver refuses, with the status and error code the sender gets.

    A refusal states what it answers in its class line (`status_code=`, `code=`, `outcome=`); what it
    leaves out it inherits.
    """

    status_code: ClassVar[int] = 400
    code: ClassVar[str] = "bad_request"
    # The `outcome` label of webhooks_received_total for this refusal.
    outcome: ClassVar[str] = "bad_request"

    def __init_subclass__(
        cls, *, status_code: int | None = None, code: str | None = None, outcome: str | None = None
    ) -> None:
        super().__init_subclass__()
        if status_code is not None:
            cls.status_code = status_code
        if code is not None:
            cls.code = code
        if outcome is not None:
            cls.outcome = outcome


class UnknownSource(RequestError, status_code=404, code="unknown_source", outcome="unknown_source"):
    """No enabled source has this name."""


class SignatureError(RequestError, status_code=401, code="invalid_signature", outcome="invalid_signature"):
    """The signature is missing, malformed or matches none of the source's secrets."""

    # The `reason` label of webhooks_signature_failures_total (REASONS in metrics.py).
    reason: ClassVar[str] = "bad_signature"

    def __init_subclass__(cls, *, reason: str | None = None, **answer: Any) -> None:
        super().__init_subclass__(**answer)
        if reason is not None:
            cls.reason = reason


class MissingHeader(SignatureError, reason="missing_header"):
    """A header the scheme needs (signature, timestamp, id) is absent or empty."""


class MalformedHeader(SignatureError, reason="malformed_header"):
    """A header (or a signed body field) is there but can't be parsed: bad encoding, syntax, number."""


class UnknownKey(SignatureError):
    """The provider's own key host says the key a request names doesn't exist: only a forgery asks for it."""


class UntrustedKeyUrl(MalformedHeader):
    """The request names a key URL that is not https on one of the provider's hosts."""


class StaleTimestamp(SignatureError, code="stale_timestamp", outcome="stale_timestamp", reason="stale_timestamp"):
    """The signed timestamp is outside the tolerance (`WEBHOOK_TOLERANCE_SECONDS`), in the past or the future."""


class FutureTimestamp(StaleTimestamp, reason="future_timestamp"):
    """The signed timestamp is further ahead of now than the tolerance (a clock skew or a pre-signed replay)."""


class HandshakeRefused(RequestError, status_code=403, code="forbidden", outcome="invalid_signature"):
    """A provider handshake that is not for us: Meta's `hub.verify_token` is not the one configured."""


class BodyTooLarge(RequestError, status_code=413, code="too_large", outcome="too_large"):
    """The body is over `WEBHOOK_MAX_BODY_BYTES`."""


class HeadersTooLarge(RequestError, status_code=431, code="headers_too_large", outcome="too_large"):
    """The request's headers add up to more than `RECEIVER_MAX_HEADER_BYTES` (the HTTP parser itself sets none)."""


class BodyTimeout(RequestError, status_code=408, code="timeout", outcome="bad_request"):
    """The body did not arrive whole within `RECEIVER_BODY_TIMEOUT_S` (a slow or stalled sender)."""


class UnsupportedMediaType(RequestError, status_code=415, code="unsupported_media_type", outcome="bad_request"):
    """The body's content type is one the source's scheme can't take."""


class BadRequest(RequestError, status_code=400, code="bad_request", outcome="bad_request"):
    """The body is not a JSON object or not UTF-8, or has no event id where the provider must send one."""


class RateLimited(RequestError, status_code=429, code="rate_limited", outcome="rate_limited"):
    """A verified event over its source's rate: the provider retries after `retry_after_s`, nothing is published."""

    def __init__(self, message: str, retry_after_s: int) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s


class MethodNotAllowed(RequestError, status_code=405, code="method_not_allowed", outcome="bad_request"):
    """Not a POST, nor a method one of the source's handshakes comes with (`Allow` names those)."""


class Unavailable(RequestError, status_code=503, code="unavailable", outcome="unavailable"):
    """Kafka is unavailable or did not acknowledge within `RECEIVER_PUBLISH_TIMEOUT_MS`: retry after `Retry-After`."""


class KeyUnavailable(Unavailable):
    """A provider's published signing key (certificate, JWK) could not be fetched: the provider retries."""


class Overloaded(Unavailable, outcome="overloaded"):
    """Unverified bodies already hold `RECEIVER_MAX_PENDING_BYTES`: the sender retries later (pending.py)."""
