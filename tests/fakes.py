"""In-memory stand-ins for the pure unit tests; integration tests use the real Kafka and Redis, never these.

`RecordingPublisher` takes the place of the receiver's Kafka publisher (`receiver.publish.Publisher`): it
keeps what it was given, so a test can say what was published and that a refusal published nothing.

`MemoryClaimStore` keeps the claim protocol of the consumers' `consumers.idempotency.ClaimStore` (leases on a
clock the test moves, done marks, per-handler marks) and `MemorySink` keeps what `consumers.kafka.RecordSink`
would have sent; both write what they did, in order, to one shared `journal`, so a test can say "released
before the retry was sent".

`recording_app` is the real receiver app over a `RecordingPublisher`, with an HTTP client that calls it in
memory.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass, field

import httpx
from prometheus_client import CollectorRegistry

from consumers.errors import StoreUnavailable
from consumers.idempotency import Claim
from consumers.kafka import Headers, OutRecord
from receiver.app import create_app
from receiver.errors import Unavailable
from receiver.settings import ReceiverSettings
from receiver.sources import Source


@dataclass
class RecordingPublisher:
    """Records `(topic, key, value, headers)` in order; `failing` makes it answer as a broker that is down."""

    records: list[tuple[str, bytes, bytes, Sequence[tuple[str, bytes]]]] = field(default_factory=list)
    failing: bool = False
    ready: bool = True

    async def start(self) -> None:
        return None

    async def stop(self) -> None:
        return None

    async def publish(self, topic: str, key: bytes, value: bytes, headers: Sequence[tuple[str, bytes]]) -> None:
        if self.failing:
            raise Unavailable("broker down")
        self.records.append((topic, key, value, headers))


@dataclass
class Clock:
    """Seconds that move only when the test says so."""

    now: float = 1_000.0

    def __call__(self) -> float:
        return self.now


@dataclass
class MemoryClaimStore:
    """Claims with leases, done marks and per-handler marks in dicts (`consumers.idempotency.ClaimStore`).

    Attributes:
        journal: `(operation, key, result)` of every call per key, shared with a `MemorySink` if given.
        down: the next this many calls fail with `StoreUnavailable` (an outage).
    """

    clock: Clock = field(default_factory=Clock)
    journal: list[tuple[str, str, object]] = field(default_factory=list)
    down: int = 0
    claims: dict[str, tuple[str, float]] = field(default_factory=dict)
    done: set[str] = field(default_factory=set)
    marks: dict[str, set[str]] = field(default_factory=dict)

    def held_by(self, key: str) -> str | None:
        """The token of the live claim on `key`, if any."""
        claim = self.claims.get(key)
        return claim[0] if claim is not None and claim[1] > self.clock() else None

    def _up(self) -> None:
        if self.down:
            self.down -= 1
            raise StoreUnavailable("Redis is unavailable: ConnectionError")

    def _log(self, op: str, keys: Sequence[str], results: list[object]) -> None:
        self.journal += [(op, key, result) for key, result in zip(keys, results, strict=True)]

    async def claim(self, keys: Sequence[str], token: str, lease_ms: int, *, force: bool = False) -> list[Claim]:
        self._up()
        results: list[Claim] = []
        for key in keys:
            holder = self.held_by(key)
            if key in self.done and not force:
                results.append(Claim.DONE)
            elif holder is not None and holder != token:
                results.append(Claim.HELD)
            else:
                self.claims[key] = (token, self.clock() + lease_ms / 1000)
                results.append(Claim.CLAIMED)
        self._log("claim", keys, list(results))
        return results

    async def is_done(self, keys: Sequence[str]) -> list[bool]:
        self._up()
        return [key in self.done for key in keys]

    async def complete(self, keys: Sequence[str], token: str) -> list[bool]:
        self._up()
        results: list[bool] = []
        for key in keys:
            holder = self.held_by(key)
            ok = holder in (token, None)
            if ok:
                self.claims.pop(key, None)
                self.marks.pop(key, None)
                self.done.add(key)
            results.append(ok)
        self._log("complete", keys, list(results))
        return results

    async def release(self, keys: Sequence[str], token: str) -> list[bool]:
        self._up()
        results = [self.held_by(key) == token for key in keys]
        for key, ours in zip(keys, results, strict=True):
            if ours:
                del self.claims[key]
        self._log("release", keys, list(results))
        return results

    async def renew(self, keys: Sequence[str], token: str, lease_ms: int) -> list[bool]:
        self._up()
        results = [self.held_by(key) == token for key in keys]
        for key, ours in zip(keys, results, strict=True):
            if ours:
                self.claims[key] = (token, self.clock() + lease_ms / 1000)
        return results

    async def handled(self, keys: Sequence[str]) -> list[set[str]]:
        self._up()
        return [set(self.marks.get(key, ())) for key in keys]

    async def mark(self, marks: Sequence[tuple[str, str]]) -> list[bool]:
        self._up()
        for key, name in marks:
            self.marks.setdefault(key, set()).add(name)
        self._log("mark", [f"{key} {name}" for key, name in marks], [True] * len(marks))
        return [True] * len(marks)


@dataclass
class MemorySink:
    """Records sent, in order (`consumers.kafka.RecordSink`); writes `("send", topic, record)` to the journal."""

    journal: list[tuple[str, str, object]] = field(default_factory=list)
    sent: list[OutRecord] = field(default_factory=list)

    async def send_all(self, records: Sequence[OutRecord]) -> None:
        self.sent += records
        self.journal += [("send", record.topic, record) for record in records]


@dataclass(frozen=True)
class FetchedRecord:
    """A fetched record (`consumers.kafka.Record`) made by hand."""

    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    headers: Headers = ()


@dataclass
class App:
    """The receiver app in memory: a client on it, what it published, and its metrics."""

    http: httpx.AsyncClient
    publisher: RecordingPublisher
    registry: CollectorRegistry

    def sample(self, name: str, labels: dict[str, str]) -> float:
        return self.registry.get_sample_value(name, labels) or 0.0


@contextlib.asynccontextmanager
async def recording_app(sources: Mapping[str, Source], settings: ReceiverSettings | None = None) -> AsyncIterator[App]:
    """The real ASGI app of `sources` over a `RecordingPublisher`, called through httpx without a socket."""
    publisher, registry = RecordingPublisher(), CollectorRegistry()
    app = create_app(settings or ReceiverSettings(), sources=dict(sources), publisher=publisher, registry=registry)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as http:
        yield App(http, publisher, registry)
