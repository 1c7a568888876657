"""The types every signature scheme shares: the `Scheme` protocol and its optional extensions, and what a
verified request becomes (`Verified`) or is answered with (`Handshake`).

What `verify` parses and compares with is in `parsing.py`; what `describe` reads of a verified body, in `events.py`.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol, runtime_checkable

# Request headers as the ASGI server gives them: lower-case names, raw bytes values.
Headers = Mapping[bytes, bytes]


@dataclass(frozen=True, slots=True)
class Verified:
    """What the receiver publishes of a verified request, besides the source it came in on."""

    id: str
    type: str
    payload_json: bytes
    occurred_at: datetime | None = None
    headers: Mapping[str, str] = field(default_factory=dict)
    # What the provider names the event's subject (a repository, a payment), where it does: `ce_subject`.
    subject: str | None = None


@dataclass(frozen=True, slots=True)
class Handshake:
    """The synchronous answer to a provider's handshake request (never published).

    Also the shape of a source's own acknowledgement of an accepted event (Adyen's `[accepted]`).
    """

    body: bytes
    content_type: bytes = b"application/json"
    status: int = 200
    headers: tuple[tuple[bytes, bytes], ...] = ()
    # A call back to the provider that must succeed before the answer (SNS: visiting the SubscribeURL);
    # its `KeyUnavailable` becomes a 503, so the provider sends the handshake again.
    follow_up: Callable[[], Awaitable[None]] | None = None
    # The secret the provider chose and sent in this handshake (Asana's `X-Hook-Secret`, Notion's
    # `verification_token`): the source keeps it before the answer goes (`Source.capture`). Never logged.
    captured: bytes | None = field(default=None, repr=False)


@dataclass(frozen=True, slots=True)
class Inbound:
    """A request as a handshake sees it: the method, the query string's fields, the headers, the body."""

    method: str
    query: Mapping[str, str]
    headers: Headers
    body: bytes


class Scheme(Protocol):
    """One provider's way of signing and describing its webhooks."""

    @property
    def provider(self) -> str:
        """The provider name: the default topic suffix and the envelope's `provider`."""
        ...

    def verify(self, headers: Headers, body: bytes, secrets: Sequence[bytes], now_s: float) -> int:
        """The position in `secrets` of the secret (or public key) that signed exactly `body`.

        Raises `SignatureError` (one of its reason-coded subclasses, `StaleTimestamp` for the window)
        unless one of them did. The position feeds `webhooks_secret_matches_total{secret}`, so an operator
        can see when a rotated-out secret stops matching and retire it.
        """
        ...

    def describe(self, source: str, headers: Headers, body: bytes) -> Verified:
        """Parse a verified body and find its event id and type; raise `BadRequest` where it can't."""
        ...


@runtime_checkable
class HandshakeScheme(Protocol):
    """The optional extension of a `Scheme` whose provider sends handshakes (Slack, Discord, Twitch).

    `routes.py` asks it after the request is verified, and before `describe`: a `Handshake` is answered
    as is (counted as outcome `handshake`, never published); `None` means an ordinary event.
    """

    def handshake(self, headers: Headers, body: bytes) -> Handshake | None: ...


class HandshakeRule(Protocol):
    """One kind of handshake a source answers (receiver/verify/handshakes.py holds them all)."""

    @property
    def kind(self) -> str: ...

    @property
    def method(self) -> str:
        """The HTTP method the provider sends it with."""
        ...

    @property
    def signed(self) -> bool:
        """Whether it is verified like an event first (and answered with the secret that matched)."""
        ...

    @property
    def captures(self) -> str | None:
        """Whether it carries the secret the provider chose for the events after: `kept`, or `shown` (also
        shown once to the operator, who pastes it back at the provider); None where it carries none."""
        ...

    def answer(self, request: Inbound, secret: bytes, verify_token: bytes | None) -> Handshake | None:
        """The answer if `request` is this handshake, else None; `RequestError`s for a bad one."""
        ...

    def sample(self, secret: bytes, verify_token: bytes | None) -> Inbound:
        """A request such as the provider sends (for `send --handshake` and the tests)."""
        ...


@dataclass(frozen=True, slots=True)
class Sample:
    """A realistic delivery of a scheme's provider, not yet signed (for `send`)."""

    body: bytes
    # The id to sign it with, where the provider sends one outside the body.
    event_id: str
    event_type: str
    content_type: str = "application/json"


@dataclass(frozen=True, slots=True)
class Delivery:
    """A signed delivery as the provider sends it: the body (some providers sign inside it) and the headers."""

    body: bytes
    headers: dict[str, str]


@runtime_checkable
class Signing(Protocol):
    """The optional extension of a `Scheme` that signs what it verifies: the one signer of `send` and the tests.

    Schemes verified with a public key have none: only the provider holds the private key.
    """

    def sample(self, now_s: float, *, event_id: str, event_type: str | None) -> Sample:
        """A realistic delivery of `event_type` (default: a common one) sent at `now_s`.

        `event_id` is used where the provider's ids have no form of their own (GitHub's are UUIDs).
        """
        ...

    def sign(self, body: bytes, secret: bytes, now_s: float, *, event_id: str, event_type: str) -> Delivery:
        """`body` signed with `secret` at `now_s`, as the provider sends it.

        `event_id` and `event_type` go where the provider puts them outside the body (a header), if anywhere.
        """
        ...


@runtime_checkable
class KeyedScheme(Protocol):
    """The extension of a `Scheme` verified with keys the provider publishes at a URL (SNS, PayPal, Plaid,
    Google): `routes.py` awaits `load_keys` before the (synchronous) `verify`, which then finds the keys the
    request names in the scheme's cache. `load_keys` raises `KeyUnavailable` (503) when a fetch fails, and
    a `SignatureError` when the request names a key it must not fetch (a URL off the provider's hosts).
    """

    async def load_keys(self, headers: Headers, body: bytes, secrets: Sequence[bytes]) -> None: ...
