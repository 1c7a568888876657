"""The budget of unverified bytes (RECEIVER_MAX_PENDING_BYTES), through the real ASGI app.

Requests are driven by hand (scope, receive, send) so a body can be left half sent, the sender can go away
or the request can be cancelled; `webhooks_pending_bytes` must be back at zero after each.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence

import httpx
import pytest
from prometheus_client import CollectorRegistry
from starlette.types import ASGIApp, Message, Scope

from receiver.app import create_app
from receiver.errors import ConfigError
from receiver.settings import ReceiverSettings, load_settings
from receiver.sources import load_sources
from tests.fakes import RecordingPublisher
from tests.signing import hmac_headers

MAX_BODY = 4096
BUDGET = 3 * MAX_BODY


@pytest.fixture
def app(publisher: RecordingPublisher, registry: CollectorRegistry) -> ASGIApp:
    settings = ReceiverSettings(max_body_bytes=MAX_BODY, max_pending_bytes=BUDGET, retry_after_s=7)
    sources = load_sources({"WEBHOOK_SECRET_HMAC": "dev-secret"}, sources_file=None, tolerance_s=300)
    return create_app(settings, sources=sources, publisher=publisher, registry=registry)


@pytest.fixture
async def client(app: ASGIApp) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as http:
        yield http


def pending(registry: CollectorRegistry) -> float | None:
    return registry.get_sample_value("webhooks_pending_bytes")


def overloaded(registry: CollectorRegistry) -> float:
    labels = {"source": "hmac", "provider": "hmac", "outcome": "overloaded"}
    return registry.get_sample_value("webhooks_received_total", labels) or 0.0


class Stalled:
    """A request whose body arrives only as far as the test lets it: the ASGI app runs it in a task."""

    def __init__(self, app: ASGIApp, body: bytes, *, declared: bool = True, secret: str = "dev-secret") -> None:  # noqa: S107
        headers = [(name.encode(), value.encode()) for name, value in hmac_headers(body, secret).items()]
        if declared:
            headers.append((b"content-length", str(len(body)).encode()))
        scope: Scope = {
            "type": "http",
            "asgi": {"version": "3.0"},
            "http_version": "1.1",
            "method": "POST",
            "scheme": "http",
            "path": "/webhooks/hmac",
            "raw_path": b"/webhooks/hmac",
            "query_string": b"",
            "root_path": "",
            "headers": headers,
            "client": ("127.0.0.1", 5000),
            "server": ("test", 80),
        }
        self.messages: asyncio.Queue[Message] = asyncio.Queue()
        self.sent: list[Message] = []
        self.task: asyncio.Task[None] = asyncio.create_task(self._run(app, scope))

    async def _run(self, app: ASGIApp, scope: Scope) -> None:
        await app(scope, self.messages.get, self._send)

    async def _send(self, message: Message) -> None:
        self.sent.append(message)

    def chunk(self, data: bytes, *, more: bool = True) -> None:
        self.messages.put_nowait({"type": "http.request", "body": data, "more_body": more})

    def disconnect(self) -> None:
        self.messages.put_nowait({"type": "http.disconnect"})

    async def status(self) -> int | None:
        await asyncio.wait_for(self.task, 2)
        starts = [m["status"] for m in self.sent if m["type"] == "http.response.start"]
        return starts[0] if starts else None


async def settle() -> None:
    for _ in range(5):
        await asyncio.sleep(0)


def body_of(size: int, event: str) -> bytes:
    head = f'{{"id":"{event}","pad":"'.encode()
    return head + b"x" * (size - len(head) - 2) + b'"}'


async def test_over_the_budget_a_new_request_gets_503_with_retry_after(
    app: ASGIApp, client: httpx.AsyncClient, registry: CollectorRegistry, publisher: RecordingPublisher
) -> None:
    # Three half-sent bodies of MAX_BODY declared bytes fill the budget (3 * MAX_BODY).
    stalled = [Stalled(app, body_of(MAX_BODY, f"slow-{n}")) for n in range(3)]
    for request in stalled:
        request.chunk(b'{"id"')
    await settle()
    assert pending(registry) == BUDGET
    body = b'{"id":"evt-late"}'
    response = await client.post("/webhooks/hmac", content=body, headers=hmac_headers(body, "dev-secret"))
    assert (response.status_code, response.json()) == (503, {"error": "unavailable"})
    assert response.headers["retry-after"] == "7"
    assert overloaded(registry) == 1
    # A chunked body (no declared length) is counted as it arrives, and refused the same way.
    chunked = Stalled(app, body, declared=False)
    chunked.chunk(body, more=False)
    assert await chunked.status() == 503
    assert overloaded(registry) == 2
    for request in stalled:
        request.disconnect()
        assert await request.status() is None
    assert pending(registry) == 0
    # The budget back, the same request is accepted: nothing was published meanwhile.
    assert publisher.records == []
    response = await client.post("/webhooks/hmac", content=body, headers=hmac_headers(body, "dev-secret"))
    assert response.status_code == 202
    assert [key for _, key, _, _ in publisher.records] == [b"evt-late"]


async def test_the_budget_returns_to_zero_after_every_way_out(
    app: ASGIApp, registry: CollectorRegistry, publisher: RecordingPublisher
) -> None:
    verified = Stalled(app, body := body_of(MAX_BODY, "ok"))
    verified.chunk(body[:100])
    refused = Stalled(app, wrong := body_of(MAX_BODY, "forged"), secret="wrong")
    refused.chunk(wrong[:100])
    left = Stalled(app, body_of(1000, "gone"))
    left.chunk(b"{")
    chunked = Stalled(app, chunked_body := body_of(1000, "chunked"), declared=False)
    chunked.chunk(chunked_body[:600])
    cancelled = Stalled(app, body_of(1000, "cancelled"), declared=False)
    cancelled.chunk(b"{" * 10)
    await settle()
    # Declared lengths up front, chunked bodies as far as they arrived.
    assert pending(registry) == MAX_BODY + MAX_BODY + 1000 + 600 + 10
    verified.chunk(body[100:], more=False)
    assert await verified.status() == 202
    refused.chunk(wrong[100:], more=False)
    assert await refused.status() == 401
    left.disconnect()
    assert await left.status() is None
    chunked.chunk(chunked_body[600:], more=False)
    assert await chunked.status() == 202
    cancelled.task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await cancelled.task
    assert pending(registry) == 0
    assert sorted(key for _, key, _, _ in publisher.records) == [b"chunked", b"ok"]


class GatedPublisher(RecordingPublisher):
    """Holds every publish until the test opens the gate: verified requests wait there, as for Kafka's ack."""

    def __init__(self) -> None:
        super().__init__()
        self.gate = asyncio.Event()

    async def publish(self, topic: str, key: bytes, value: bytes, headers: Sequence[tuple[str, bytes]]) -> None:
        await self.gate.wait()
        await super().publish(topic, key, value, headers)


async def test_verified_requests_under_the_budget_are_unaffected(registry: CollectorRegistry) -> None:
    publisher = GatedPublisher()
    settings = ReceiverSettings(max_body_bytes=MAX_BODY, max_pending_bytes=BUDGET, retry_after_s=7)
    sources = load_sources({"WEBHOOK_SECRET_HMAC": "dev-secret"}, sources_file=None, tolerance_s=300)
    app = create_app(settings, sources=sources, publisher=publisher, registry=registry)
    # Two stalled senders hold two thirds of the budget. Verified requests waiting for the ack hold none of
    # it, so five of them at once all fit, one after another, in the last third.
    stalled = [Stalled(app, body_of(MAX_BODY, f"slow-{n}")) for n in range(2)]
    for request in stalled:
        request.chunk(b"{")
    waiting = []
    for n in range(5):
        waiting.append(Stalled(app, body := body_of(MAX_BODY, f"evt-{n}")))
        waiting[-1].chunk(body, more=False)
        await settle()
        assert pending(registry) == 2 * MAX_BODY
    assert [request.sent for request in waiting] == [[]] * 5
    publisher.gate.set()
    assert [await request.status() for request in waiting] == [202] * 5
    assert len(publisher.records) == 5
    assert overloaded(registry) == 0
    for request in stalled:
        request.disconnect()
        await request.status()
    assert pending(registry) == 0


def test_the_budget_must_hold_one_whole_body(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WEBHOOK_MAX_BODY_BYTES", "2048")
    monkeypatch.setenv("RECEIVER_MAX_PENDING_BYTES", "1024")
    with pytest.raises(ConfigError, match="RECEIVER_MAX_PENDING_BYTES must be at least WEBHOOK_MAX_BODY_BYTES"):
        load_settings()
    monkeypatch.setenv("RECEIVER_MAX_PENDING_BYTES", "0")
    with pytest.raises(ConfigError, match="RECEIVER_MAX_PENDING_BYTES"):
        load_settings()
