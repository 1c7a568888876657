"""`consumers.forward` without a network: the Standard Webhooks signer, what each answer means, the settings, and
the POST over an in-memory transport (the real server and worker: tests/integration/consumers/test_forward.py)."""

from __future__ import annotations

import asyncio
import base64
import logging
import re
import time
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from typing import Any

import httpx
import pytest
import standardwebhooks

import consumers.forward
from consumers import Context, Event
from consumers.errors import ConfigError, HandlerError, PermanentError, RetryLater
from consumers.forward.answers import answer_error, retry_after_s
from consumers.forward.forwarder import Forwarder, open_forwarder
from consumers.forward.settings import ForwardSettings, load_forward_settings
from consumers.forward.signing import message_id, signing_key
from primitives.standardwebhooks import signature, signed_headers
from schemas import Envelope

# The Standard Webhooks reference libraries' signing vector: `test_sign_function` in
# standard-webhooks/standard-webhooks, libraries/python/tests/test_webhooks.py (MIT licence, Svix).
VECTOR_SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
VECTOR_ID = "msg_p5jXN8AQM9LWM0D4loKWxJek"
VECTOR_TIMESTAMP = 1614265330
VECTOR_BODY = b'{"test": 2432232314}'
VECTOR_SIGNATURE = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="

SECRET = "whsec_" + base64.b64encode(b"k" * 32).decode()
OLD_SECRET = "whsec_" + base64.b64encode(b"o" * 24).decode()
NOW = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)


def test_the_signer_makes_the_published_vector() -> None:
    assert signature(signing_key(VECTOR_SECRET), VECTOR_ID, VECTOR_TIMESTAMP, VECTOR_BODY) == VECTOR_SIGNATURE


def test_every_key_signs_and_the_reference_library_accepts_each() -> None:
    now = int(time.time())
    headers = signed_headers([signing_key(SECRET), signing_key(OLD_SECRET)], "evt_1", now, b'{"a":1}')
    assert headers["webhook-id"] == "evt_1"
    assert headers["webhook-timestamp"] == str(now)
    assert len(headers["webhook-signature"].split(" ")) == 2
    for secret in (SECRET, OLD_SECRET):
        assert standardwebhooks.Webhook(secret).verify(b'{"a":1}', headers) == {"a": 1}
    with pytest.raises(standardwebhooks.webhooks.WebhookVerificationError):
        standardwebhooks.Webhook("whsec_" + base64.b64encode(b"x" * 32).decode()).verify(b'{"a":1}', headers)


@pytest.mark.parametrize(
    ("secret", "problem"),
    [
        (base64.b64encode(b"k" * 32).decode(), "must start with whsec_"),
        ("whsec_not base64!", "followed by base64"),
        ("whsec_" + base64.b64encode(b"k" * 23).decode(), "at least 24 bytes (it is 23)"),
        ("whsec_", "at least 24 bytes (it is 0)"),
    ],
)
def test_a_bad_secret_is_refused_without_repeating_it(secret: str, problem: str) -> None:
    with pytest.raises(ValueError, match=re.escape(problem)) as caught:
        signing_key(secret)
    key_part = secret.removeprefix("whsec_")
    assert not key_part or key_part not in str(caught.value)


def test_a_secret_without_padding_or_with_spaces_around_is_the_same_key() -> None:
    padded = "whsec_" + base64.b64encode(b"k" * 25).decode()
    assert padded.endswith("=")
    assert signing_key(padded.rstrip("=")) == signing_key(f" {padded}\n") == b"k" * 25


@pytest.mark.parametrize("key", ["evt_1", "0b4e5c1e-3c6f-4b8e-9a1f-1d2c3b4a5e6f", "msg:42", "a" * 256])
def test_a_plain_idempotency_key_is_the_webhook_id(key: str) -> None:
    assert message_id(key) == key


@pytest.mark.parametrize("key", ["order.created.1", "two words", "évènement", "a" * 257, " evt_1", ""])
def test_a_key_the_header_or_signed_content_cannot_carry_is_hashed_the_same_every_time(key: str) -> None:
    hashed = message_id(key)
    assert hashed.startswith("sha256_")
    assert len(hashed) == len("sha256_") + 64
    assert hashed == message_id(key)
    assert "." not in hashed


@pytest.mark.parametrize("status", [200, 201, 202, 204, 299])
def test_a_2xx_is_done(status: int) -> None:
    assert answer_error(status, "30", now=NOW) is None


@pytest.mark.parametrize("status", [408, 429, 500, 502, 503, 504, 599])
def test_408_429_and_5xx_are_retried_after_the_backoff_without_retry_after(status: int) -> None:
    error = answer_error(status, None, now=NOW)
    assert type(error) is HandlerError
    assert error.retriable
    assert str(status) in str(error)


@pytest.mark.parametrize(
    ("retry_after", "delay_s"),
    [
        ("7", 7.0),
        (" 0 ", 0.0),
        ("86400", 86400.0),  # RetryLater cuts it to the worker's longest wait
        (format_datetime(NOW + timedelta(seconds=90), usegmt=True), 90.0),
        ("Monday, 30-Nov-26 12:02:00 GMT", 120.0),  # RFC 850, obsolete but allowed by HTTP
        ("Mon Nov 30 12:00:05 2026", 5.0),  # asctime
        (format_datetime(NOW - timedelta(hours=1), usegmt=True), 0.0),  # already passed
    ],
)
def test_retry_after_in_seconds_or_as_an_http_date_sets_the_delay(retry_after: str, delay_s: float) -> None:
    assert retry_after_s(retry_after, now=NOW) == delay_s
    error = answer_error(503, retry_after, now=NOW)
    assert isinstance(error, RetryLater)
    assert error.delay_s == delay_s
    assert error.retriable


@pytest.mark.parametrize("retry_after", ["soon", "-5", "1.5", "", "٣", "Mon, 99 Foo 2026 99:99:99 GMT"])
def test_an_unreadable_retry_after_gets_the_ordinary_backoff(retry_after: str) -> None:
    assert retry_after_s(retry_after, now=NOW) is None
    assert type(answer_error(429, retry_after, now=NOW)) is HandlerError


@pytest.mark.parametrize("status", [400, 401, 403, 404, 409, 410, 413, 422, 301, 302, 307, 308])
def test_other_answers_go_to_the_dlq_with_the_status_in_the_reason(status: int) -> None:
    error = answer_error(status, "5", now=NOW)
    assert isinstance(error, PermanentError)
    assert not error.retriable
    assert f"agent service answered {status} " in str(error)


def test_a_redirect_says_it_was_not_followed() -> None:
    assert "not followed" in str(answer_error(301, None, now=NOW))


# -------------------------------------------------------------------------------------------------- settings


def env(monkeypatch: pytest.MonkeyPatch, **values: str) -> None:
    for name in ("FORWARD_URL", "FORWARD_SECRET", "FORWARD_PROVIDERS", "FORWARD_TYPES", "FORWARD_TIMEOUT_S"):
        monkeypatch.delenv(name, raising=False)
    for name, value in values.items():
        monkeypatch.setenv(name, value)


def test_settings_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    env(
        monkeypatch,
        FORWARD_URL="https://user:pw@agents.example.com:8443/hooks?token=t0k",
        FORWARD_SECRET=f"{SECRET}, {OLD_SECRET}",
        FORWARD_PROVIDERS="stripe, git*",
        FORWARD_TYPES="payment_intent.*,issues.*",
        FORWARD_TIMEOUT_S="4.5",
    )
    settings = load_forward_settings()
    assert settings.url == "https://user:pw@agents.example.com:8443/hooks?token=t0k"
    assert settings.endpoint == "https://agents.example.com:8443"
    assert settings.keys == (signing_key(SECRET), signing_key(OLD_SECRET))
    assert settings.forward_timeout_s == 4.5
    assert settings.wants("stripe", "payment_intent.succeeded")
    assert settings.wants("github", "issues.opened")
    assert not settings.wants("stripe", "charge.succeeded")
    assert not settings.wants("slack", "issues.opened")
    assert "t0k" not in repr(settings)
    assert SECRET not in repr(settings)


def test_by_default_every_event_is_forwarded_within_15_seconds(monkeypatch: pytest.MonkeyPatch) -> None:
    env(monkeypatch, FORWARD_URL="http://127.0.0.1:9000/", FORWARD_SECRET=SECRET)
    settings = load_forward_settings()
    assert settings.wants("anything", "")
    assert settings.forward_timeout_s == 15.0


@pytest.mark.parametrize(
    ("values", "line"),
    [
        ({"FORWARD_SECRET": SECRET}, "invalid configuration: FORWARD_URL: Field required"),
        ({"FORWARD_URL": "http://a/"}, "invalid configuration: FORWARD_SECRET: Field required"),
        (
            {"FORWARD_URL": "ftp://a/", "FORWARD_SECRET": SECRET},
            "invalid configuration: FORWARD_URL: must be an http:// or https:// URL with a host",
        ),
        (
            {"FORWARD_URL": "http:///path", "FORWARD_SECRET": SECRET},
            "invalid configuration: FORWARD_URL: must be an http:// or https:// URL with a host",
        ),
        (
            {"FORWARD_URL": "http://a/", "FORWARD_SECRET": "s3cr3t-value"},
            "invalid configuration: FORWARD_SECRET: must start with whsec_ (a Standard Webhooks secret)",
        ),
        (
            {"FORWARD_URL": "http://a/", "FORWARD_SECRET": f"{SECRET},whsec_c2hvcnQ="},
            "invalid configuration: FORWARD_SECRET: the key after whsec_ must be at least 24 bytes (it is 5)",
        ),
        (
            {"FORWARD_URL": "http://a/", "FORWARD_SECRET": " , "},
            "invalid configuration: FORWARD_SECRET: must be set to a whsec_ secret",
        ),
        (
            {"FORWARD_URL": "http://a/", "FORWARD_SECRET": SECRET, "FORWARD_TYPES": ","},
            "invalid configuration: FORWARD_TYPES: must name at least one glob (`*` for all)",
        ),
        (
            {"FORWARD_URL": "http://a/", "FORWARD_SECRET": SECRET, "FORWARD_TIMEOUT_S": "0"},
            "invalid configuration: FORWARD_TIMEOUT_S: Input should be greater than 0",
        ),
    ],
)
def test_a_bad_setting_is_one_line_naming_it_never_its_value(
    monkeypatch: pytest.MonkeyPatch, values: dict[str, str], line: str
) -> None:
    env(monkeypatch, **values)
    with pytest.raises(ConfigError) as caught:
        load_forward_settings()
    assert str(caught.value) == line
    assert "s3cr3t" not in line
    assert "c2hvcnQ" not in line


# ------------------------------------------------------------------------------------------------ forwarder


def event(event_id: str = "evt_1", *, provider: str = "stripe", type: str = "payment_intent.succeeded") -> Event[Any]:
    envelope = Envelope(
        id=event_id,
        source=provider,
        provider=provider,
        type=type,
        received_at=NOW,
        payload={"id": event_id, "amount": 2**70},  # past 64 bits, as a provider's JSON may be
    )
    return Event(envelope, envelope.payload)


def context(event_id: str = "evt_1", *, time_left_s: float = 30.0) -> Context:
    return Context(
        attempt=1,
        max_attempts=5,
        deadline=time.monotonic() + time_left_s,
        idempotency_key=event_id,
        log=logging.LoggerAdapter(logging.getLogger("test")),
        state=None,
    )


class Agent:
    """An in-memory agent service: answers each request with the next of `answers`, records what it got."""

    def __init__(self, *answers: httpx.Response | Exception) -> None:
        self.answers = list(answers)
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        answer = self.answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer


def forwarder(agent: Agent, **overrides: Any) -> Forwarder:
    settings = ForwardSettings(forward_url="http://agent.test/hooks", forward_secret=SECRET, **overrides)
    return Forwarder(settings, httpx.AsyncClient(transport=httpx.MockTransport(agent)))


async def test_the_post_is_the_envelope_signed_for_standard_webhooks_libraries() -> None:
    agent = Agent(httpx.Response(204))
    sent = event()
    await forwarder(agent).send(sent, context())
    [request] = agent.requests
    assert request.method == "POST"
    assert str(request.url) == "http://agent.test/hooks"
    assert request.headers["content-type"] == "application/json"
    assert request.headers["webhook-id"] == "evt_1"
    body = standardwebhooks.Webhook(SECRET).verify(request.content, dict(request.headers))
    assert Envelope.model_validate(body) == sent.envelope
    assert body["payload"]["amount"] == 2**70


async def test_a_retry_of_the_event_keeps_its_webhook_id_and_signs_a_new_timestamp() -> None:
    agent = Agent(httpx.Response(503), httpx.Response(200))
    target = forwarder(agent)
    with pytest.raises(HandlerError, match="agent service answered 503 Service Unavailable"):
        await target.send(event(), context())
    await target.send(event(), context())
    first, second = agent.requests
    assert first.headers["webhook-id"] == second.headers["webhook-id"] == "evt_1"
    assert abs(int(second.headers["webhook-timestamp"]) - time.time()) < 5


async def test_an_event_outside_the_filters_is_done_without_a_request() -> None:
    agent = Agent()
    target = forwarder(agent, forward_providers=("github",), forward_types=("issues.*",))
    await target.send(event(provider="stripe", type="issues.opened"), context())
    await target.send(event(provider="github", type="push"), context())
    assert agent.requests == []


@pytest.mark.parametrize(
    ("failure", "message"),
    [
        (httpx.ConnectError("[Errno 111] Connection refused to http://agent.test/hooks"), "unreachable: ConnectError"),
        (httpx.ReadTimeout("timed out"), "unreachable: ReadTimeout"),
        (httpx.RemoteProtocolError("peer closed"), "unreachable: RemoteProtocolError"),
    ],
)
async def test_no_answer_is_retried_and_the_error_never_names_the_url(failure: Exception, message: str) -> None:
    with pytest.raises(HandlerError) as caught:
        await forwarder(Agent(failure)).send(event(), context())
    assert type(caught.value) is HandlerError
    assert message in str(caught.value)
    assert "agent.test" not in str(caught.value)


async def test_the_wait_for_an_answer_ends_before_the_handler_deadline() -> None:
    async def slow(request: httpx.Request) -> httpx.Response:
        await asyncio.sleep(5)
        return httpx.Response(200)

    settings = ForwardSettings(forward_url="http://agent.test/", forward_secret=SECRET, forward_timeout_s=10)
    target = Forwarder(settings, httpx.AsyncClient(transport=httpx.MockTransport(slow)))
    started = time.monotonic()
    with pytest.raises(HandlerError, match=r"did not answer within 0\.2s"):
        await target.send(event(), context(time_left_s=0.2))
    assert time.monotonic() - started < 1.0


# ------------------------------------------------------------------------------------------------- lifespan


async def test_the_lifespan_reads_the_settings_once_and_closes_its_client(monkeypatch: pytest.MonkeyPatch) -> None:
    env(monkeypatch, FORWARD_URL="http://127.0.0.1:9/hooks", FORWARD_SECRET=SECRET)
    async with open_forwarder() as opened:
        assert opened.settings.url == "http://127.0.0.1:9/hooks"
        assert opened.keys == (signing_key(SECRET),)
        assert not opened.client.is_closed
    assert opened.client.is_closed


async def test_a_bad_setting_fails_the_lifespan_before_any_client(monkeypatch: pytest.MonkeyPatch) -> None:
    env(monkeypatch, FORWARD_URL="http://127.0.0.1:9/hooks", FORWARD_SECRET="whsec_c2hvcnQ=")
    with pytest.raises(ConfigError, match="FORWARD_SECRET: the key after whsec_ must be at least 24 bytes"):
        async with open_forwarder():
            pytest.fail("entered")


def test_the_module_registers_one_handler_for_everything_under_its_lifespan() -> None:
    assert consumers.forward.registry.lifespan is open_forwarder
    [handler] = consumers.forward.registry.handlers
    assert handler.name == "forward"
    assert consumers.forward.registry.handlers_for("any", "thing.happened") == (handler,)
