"""Abuse at the edge: hostile senders against the receiver under a real uvicorn, on loopback.

Each request is written byte for byte on a raw socket where httpx would tidy it up (declared and streamed
sizes, chunked bodies, trickled bodies, huge headers). The publisher is the in-memory recording one except in
the logging test, which runs `python -m receiver` against the real broker: every refusal must leave nothing
published, answer a 4xx in bounded time, and be counted.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import time
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import orjson
import pytest
from prometheus_client import CollectorRegistry

from receiver.app import create_app
from receiver.settings import ReceiverSettings
from receiver.sources import load_sources
from schemas import Envelope
from tests.fakes import RecordingPublisher
from tests.integration.kafka_tools import read_topic, serving
from tests.integration.receiver_process import ReceiverSource, receiver_process, wait_ready
from tests.signing import gitlab_headers, hmac_headers, slack_headers, standard_headers, stripe_headers

pytestmark = pytest.mark.fault

SECRETS = {
    "WEBHOOK_SECRET_HMAC": "edge-hmac-secret",
    "WEBHOOK_SECRET_STRIPE": "whsec_edge",
    "WEBHOOK_SECRET_SLACK": "edge-slack-secret",
    "WEBHOOK_SECRET_STANDARDWEBHOOKS": "whsec_ZWRnZS1zdGFuZGFyZC1zZWNyZXQ=",
}
MAX_BODY = 4096
BODY_TIMEOUT_S = 1.0
# Every exchange below must end within this: a hang is a failure, not a slow pass.
EXCHANGE_TIMEOUT_S = 10.0


@dataclass
class Edge:
    url: str
    publisher: RecordingPublisher
    registry: CollectorRegistry
    clock: list[float]

    def received(self, source: str, outcome: str) -> float:
        labels = {"source": source, "provider": source, "outcome": outcome}
        return self.registry.get_sample_value("webhooks_received_total", labels) or 0.0


@pytest.fixture
async def edge() -> AsyncIterator[Edge]:
    publisher, registry, clock = RecordingPublisher(), CollectorRegistry(), [time.time()]
    settings = ReceiverSettings(max_body_bytes=MAX_BODY, body_timeout_s=BODY_TIMEOUT_S)
    sources = load_sources(SECRETS, sources_file=None, tolerance_s=300)
    app = create_app(settings, sources=sources, publisher=publisher, registry=registry, clock=lambda: clock[0])
    async with serving(app) as url:
        yield Edge(url, publisher, registry, clock)


@dataclass(frozen=True)
class Answer:
    status: int  # 0: the server closed the connection without an answer
    body: bytes
    elapsed_s: float


def request_head(path: str, headers: Sequence[tuple[str, str]]) -> bytes:
    lines = [f"POST {path} HTTP/1.1", "host: 127.0.0.1", *(f"{name}: {value}" for name, value in headers)]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


async def exchange(url: str, head: bytes, parts: Sequence[bytes] = (), pause_s: float = 0.0) -> Answer:
    """Write `head`, then each part (`pause_s` apart) while reading the answer; the answer and its time."""
    address = urlsplit(url)
    started = time.monotonic()
    reader, writer = await asyncio.open_connection(address.hostname, address.port)

    async def write() -> None:
        try:
            writer.write(head)
            await writer.drain()
            for part in parts:
                if pause_s:
                    await asyncio.sleep(pause_s)
                writer.write(part)
                await writer.drain()
        except (ConnectionResetError, BrokenPipeError):
            return  # the server answered and closed while the rest was still coming: that is the point

    sending = asyncio.create_task(write())
    try:
        async with asyncio.timeout(EXCHANGE_TIMEOUT_S):
            try:
                response_head = await reader.readuntil(b"\r\n\r\n")
            except (asyncio.IncompleteReadError, ConnectionResetError):
                return Answer(0, b"", time.monotonic() - started)
            status = int(response_head.split(b" ", 2)[1])
            length = 0
            for line in response_head.split(b"\r\n")[1:]:
                name, _, value = line.partition(b":")
                if name.strip().lower() == b"content-length":
                    length = int(value)
            body = await reader.readexactly(length)
            return Answer(status, body, time.monotonic() - started)
    finally:
        sending.cancel()
        writer.close()
        with contextlib.suppress(ConnectionResetError, BrokenPipeError):
            await writer.wait_closed()


def signed(body: bytes) -> list[tuple[str, str]]:
    return list(hmac_headers(body, SECRETS["WEBHOOK_SECRET_HMAC"]).items())


async def test_a_declared_oversized_body_is_refused_before_it_is_sent(edge: Edge) -> None:
    head = request_head("/webhooks/hmac", [*signed(b"{}"), ("content-length", str(100 * 1_048_576))])
    answer = await exchange(edge.url, head)  # 100 MiB declared, not one byte of it sent
    assert (answer.status, orjson.loads(answer.body)) == (413, {"error": "too_large"})
    assert answer.elapsed_s < 2
    assert edge.publisher.records == []
    assert edge.received("hmac", "too_large") == 1


async def test_a_chunked_body_without_length_is_cut_off_at_the_limit(edge: Edge) -> None:
    chunk = b"x" * 1024
    # 64 KiB offered in 1 KiB chunks against a 4 KiB limit; the sender keeps going as long as it is let.
    parts = [b"400\r\n" + chunk + b"\r\n" for _ in range(64)] + [b"0\r\n\r\n"]
    head = request_head("/webhooks/hmac", [*signed(b"{}"), ("transfer-encoding", "chunked")])
    answer = await exchange(edge.url, head, parts, pause_s=0.005)
    assert (answer.status, orjson.loads(answer.body)) == (413, {"error": "too_large"})
    # A lying content-length (small) with a larger streamed body is cut off the same way.
    body = b'{"id":"liar","pad":"' + b"y" * (2 * MAX_BODY) + b'"}'
    head = request_head("/webhooks/hmac", [*signed(body), ("content-length", str(len(body)))])
    answer = await exchange(edge.url, head, [body[i : i + 512] for i in range(0, len(body), 512)])
    assert (answer.status, orjson.loads(answer.body)) == (413, {"error": "too_large"})
    assert edge.publisher.records == []
    assert edge.received("hmac", "too_large") == 2


async def test_a_trickled_or_stalled_body_gets_408_at_the_deadline(edge: Edge) -> None:
    body = orjson.dumps({"id": "slow-1", "type": "slow", "pad": "z" * 200})
    head = request_head("/webhooks/hmac", [*signed(body), ("content-length", str(len(body)))])
    # Slow loris: one byte every 50 ms would take over 10 s; the deadline is for the whole body, not per byte.
    trickled = await exchange(edge.url, head, [body[i : i + 1] for i in range(len(body))], pause_s=0.05)
    # Stalled: the headers promise a body that never comes.
    stalled = await exchange(edge.url, head)
    for answer in (trickled, stalled):
        assert (answer.status, orjson.loads(answer.body)) == (408, {"error": "timeout"})
        assert BODY_TIMEOUT_S <= answer.elapsed_s < BODY_TIMEOUT_S + 1.5, answer.elapsed_s
    assert edge.publisher.records == []
    assert edge.received("hmac", "bad_request") == 2
    # The same request sent at once is fine: the deadline does not bite an honest sender.
    async with httpx.AsyncClient(base_url=edge.url) as http:
        response = await http.post("/webhooks/hmac", content=body, headers=dict(signed(body)))
    assert (response.status_code, response.json()) == (202, {"status": "accepted", "id": "slow-1"})
    assert len(edge.publisher.records) == 1


@pytest.mark.parametrize(
    ("what", "junk"),
    [
        ("one 64 KiB header", [("x-junk", "a" * 65_536)]),
        ("one 1 MiB header", [("x-junk", "a" * 1_048_576)]),
        ("2,000 headers", [(f"x-junk-{n}", "b" * 64) for n in range(2000)]),
    ],
)
async def test_huge_headers_are_refused_before_the_body_never_a_500_or_a_hang(
    edge: Edge, what: str, junk: list[tuple[str, str]]
) -> None:
    # uvicorn's httptools parser sets no limit on header size or count (measured: a 16 MiB header is read
    # whole), so the route refuses headers over RECEIVER_MAX_HEADER_BYTES (64 KiB) itself, signed or not.
    body = orjson.dumps({"id": f"big-{len(junk)}-{len(junk[0][1])}", "type": "t"})
    fake = [("content-type", "application/json"), ("x-signature-256", "sha256=" + "f" * len(junk[0][1]))]
    answers = []
    for headers in ([*junk, *signed(body)], [*junk, *fake]):
        head = request_head("/webhooks/hmac", [*headers, ("content-length", str(len(body)))])
        answers.append(await exchange(edge.url, head, [body]))
    assert [(answer.status, orjson.loads(answer.body)) for answer in answers] == [
        (431, {"error": "headers_too_large"})
    ] * 2, what
    assert max(answer.elapsed_s for answer in answers) < 2
    assert edge.publisher.records == []
    assert edge.received("hmac", "too_large") == 2
    # Just under the limit, a signed request goes through.
    normal = [("x-junk", "c" * 16_384)]
    head = request_head("/webhooks/hmac", [*normal, *signed(body), ("content-length", str(len(body)))])
    assert (await exchange(edge.url, head, [body])).status == 202
    assert len(edge.publisher.records) == 1


async def test_bodies_that_are_not_utf8_json_or_too_deep_are_400_never_a_crash(edge: Edge) -> None:
    bodies = {
        "invalid utf-8": b'{"id":"bad-\xff\xfe","type":"x"}',
        "lone surrogate": b'{"id":"\\ud800","type":"x"}',
        "100k levels of [": b"[" * 100_000,
        "100k levels of {": b'{"a":' * 100_000,
        "2k levels, closed": b"[" * 2_000 + b"]" * 2_000,
        "not an object": b"[1,2,3]",
        "truncated": b'{"id":"t1","type":',
        "NaN": b'{"id":"nan","amount":NaN}',
    }
    settings_large = {k: v for k, v in bodies.items() if len(v) <= MAX_BODY}
    async with httpx.AsyncClient(base_url=edge.url, timeout=EXCHANGE_TIMEOUT_S) as http:
        statuses = {}
        for what, body in bodies.items():
            response = await http.post("/webhooks/hmac", content=body, headers=dict(signed(body)))
            statuses[what] = (response.status_code, response.json()["error"])
    # Over the 4 KiB limit (the deep ones) is a 413 before any parsing; within it, a 400.
    expected = {what: (400, "bad_request") for what in settings_large} | {
        what: (413, "too_large") for what in bodies if what not in settings_large
    }
    assert statuses == expected
    # The same depth within the size limit is still a 400 (the parser's depth limit, not recursion).
    settings_deep = b"[" * (MAX_BODY - 1)
    async with httpx.AsyncClient(base_url=edge.url) as http:
        response = await http.post("/webhooks/hmac", content=settings_deep, headers=dict(signed(settings_deep)))
    assert (response.status_code, response.json()) == (400, {"error": "bad_request"})
    assert edge.publisher.records == []
    assert edge.received("hmac", "bad_request") == len(settings_large) + 1


async def test_a_request_replayed_outside_the_window_is_refused_for_every_timestamped_scheme(edge: Edge) -> None:
    body = orjson.dumps({"id": "evt_replay", "type": "order.created", "event_id": "Ev1", "object": "event"})
    now = int(edge.clock[0])
    requests = {
        "stripe": stripe_headers(body, SECRETS["WEBHOOK_SECRET_STRIPE"], timestamp=now),
        "slack": slack_headers(body, SECRETS["WEBHOOK_SECRET_SLACK"], timestamp=now),
        "standardwebhooks": standard_headers(body, SECRETS["WEBHOOK_SECRET_STANDARDWEBHOOKS"], "msg_r1", now),
    }
    async with httpx.AsyncClient(base_url=edge.url) as http:
        first = {
            s: (await http.post(f"/webhooks/{s}", content=body, headers=h)).status_code for s, h in requests.items()
        }
        # The very same bytes, captured and replayed 301 s later (just past the 300 s window), then 301 s early.
        edge.clock[0] = now + 301
        late = {s: (await http.post(f"/webhooks/{s}", content=body, headers=h)).json() for s, h in requests.items()}
        edge.clock[0] = now - 301
        early = {s: (await http.post(f"/webhooks/{s}", content=body, headers=h)).json() for s, h in requests.items()}
    assert first == {"stripe": 202, "slack": 202, "standardwebhooks": 202}
    assert late == early == {s: {"error": "stale_timestamp"} for s in requests}
    assert len(edge.publisher.records) == 3
    assert sum(edge.received(s, "stale_timestamp") for s in requests) == 6


async def test_no_secret_and_no_body_reaches_the_logs_at_debug(
    kafka_bootstrap: str, unique: str, tmp_path: Path
) -> None:
    secret = f"sekrit-{unique}-hmac"
    gitlab_token = f"sekrit-{unique}-gitlab"
    source = ReceiverSource(unique, secret)
    env = source.env(
        kafka_bootstrap,
        tmp_path,
        LOG_LEVEL="DEBUG",
        WEBHOOK_SECRET_GITLAB=gitlab_token,
        WEBHOOK_MAX_BODY_BYTES=str(MAX_BODY),
        RECEIVER_BODY_TIMEOUT_S="1",
    )
    url = f"http://127.0.0.1:{env['RECEIVER_PORT']}"
    marker = f"bodymarker-{unique}"
    # Event ids are logged on purpose (one line per request); the marker stands for body content only.
    good = orjson.dumps({"id": f"evt-{unique}-good", "type": "t", "note": marker})
    tampered = good.replace(b'"t"', b'"u"')
    hmac_path = f"/webhooks/{source.name}"
    wrong_mac = hmac.new(b"not-" + secret.encode(), good, hashlib.sha256).hexdigest()
    sends: list[tuple[str, bytes, dict[str, str], int]] = [
        (hmac_path, good, hmac_headers(good, secret), 202),
        (hmac_path, tampered, hmac_headers(good, secret), 401),
        (hmac_path, good, {"content-type": "application/json", "x-signature-256": f"sha256={wrong_mac}"}, 401),
        # A sender that pastes the secret itself where the signature goes.
        (hmac_path, good, {"content-type": "application/json", "x-signature-256": secret}, 401),
        (hmac_path, b"{" + marker.encode(), hmac_headers(b"{" + marker.encode(), secret), 400),
        (hmac_path, marker.encode() * 1000, hmac_headers(marker.encode() * 1000, secret), 413),
        ("/webhooks/gitlab", good, gitlab_headers(gitlab_token, idempotency_key=f"gl-{unique}"), 202),
        ("/webhooks/gitlab", good, gitlab_headers(f"{gitlab_token}-wrong"), 401),
        (f"/webhooks/{marker}", good, hmac_headers(good, secret), 404),
    ]
    log = tmp_path / "receiver.log"
    with receiver_process(env, log) as process:
        await wait_ready(process, url, log)
        async with httpx.AsyncClient(base_url=url, timeout=EXCHANGE_TIMEOUT_S) as http:
            statuses = [(await http.post(p, content=b, headers=h)).status_code for p, b, h, _ in sends]
        # And a stalled body (408), whose partial bytes carry the marker.
        partial = f'{{"id":"{marker}-stall"'.encode()
        head = request_head(hmac_path, [*hmac_headers(partial + b"}", secret).items(), ("content-length", "999")])
        stalled = await exchange(url, head, [partial])
    assert statuses == [expected for *_, expected in sends]
    assert stalled.status == 408
    records = await read_topic(kafka_bootstrap, source.topic, expect=1)
    assert [Envelope.from_bytes(r.value).id for r in records] == [f"evt-{unique}-good"]
    output = log.read_text()
    assert "DEBUG" in output  # the log really was at DEBUG: refusals are logged there
    for needle in (secret, gitlab_token, marker, wrong_mac):
        assert needle not in output, f"{needle!r} appears in the receiver's output"
    # One JSON line per request (LOG_FORMAT defaults to json), naming the event, never its body.
    lines = [orjson.loads(line) for line in output.splitlines() if line.startswith("{")]
    requests = [line for line in lines if line["logger"] == "receiver.requests"]
    assert [(line["outcome"], line["status"]) for line in requests] == [
        ("accepted", 202),
        ("invalid_signature", 401),
        ("invalid_signature", 401),
        ("invalid_signature", 401),
        ("bad_request", 400),
        ("too_large", 413),
        ("accepted", 202),
        ("invalid_signature", 401),
        ("unknown_source", 404),
        ("bad_request", 408),
    ]
    assert requests[0]["event_id"] == f"evt-{unique}-good"
    assert requests[0]["type"] == "t"
