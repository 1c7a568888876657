"""The POST of an event to the agent service, signed with Standard Webhooks, over one shared HTTP client."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import httpx

from consumers import Context, Event
from consumers.errors import HandlerError
from consumers.forward.answers import answer_error
from consumers.forward.settings import ForwardSettings, load_forward_settings
from consumers.forward.signing import message_id
from primitives.standardwebhooks import signed_headers

log = logging.getLogger(__name__)

USER_AGENT = "webhook-ingest-forward"
# An answer's body is not ours to keep: a little of it is read so the connection can serve the next request.
MAX_ANSWER_BYTES = 65_536
# Below this many seconds left of the handler's deadline, no request is started: it could not be answered.
MIN_TIME_LEFT_S = 0.05


@dataclass(frozen=True, slots=True)
class Forwarder:
    """Sends events to `FORWARD_URL`.

    Args:
        settings: the `FORWARD_*` settings.
        client: the worker's HTTP client, shared by every event.
    """

    settings: ForwardSettings
    client: httpx.AsyncClient
    keys: tuple[bytes, ...] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "keys", self.settings.keys)

    async def send(self, event: Event[Any], context: Context) -> None:
        """POST the event's envelope, signed; return on a 2xx, else raise the error that retries or dead-letters it.

        Raises:
            RetryLater: a 408, 429 or 5xx with a `Retry-After`.
            HandlerError: one without, or no answer (refused, reset, timed out): retried after the backoff.
            PermanentError: any other answer (a 3xx or 4xx): the event goes to the DLQ.
        """
        if not self.settings.wants(event.provider, event.type):
            return
        timeout_s = min(self.settings.forward_timeout_s, context.time_left_s)
        if timeout_s < MIN_TIME_LEFT_S:
            raise HandlerError("no time left before the handler's deadline to forward the event")
        # The envelope, as published to Kafka (its JSON Schema is `webhooks schema`'s): every field an agent
        # needs to route the event, the provider's body under `payload`. Pydantic's encoder, not
        # `Envelope.to_bytes`: it also writes integers past 64 bits, which a provider's JSON may hold.
        body = event.envelope.model_dump_json().encode()
        headers = {
            "content-type": "application/json",
            "user-agent": USER_AGENT,
            **signed_headers(self.keys, message_id(context.idempotency_key), int(time.time()), body),
        }
        if event.traceparent is not None:
            headers["traceparent"] = event.traceparent
        try:
            async with (
                asyncio.timeout(timeout_s),
                self.client.stream(
                    "POST", self.settings.url, content=body, headers=headers, timeout=timeout_s
                ) as response,
            ):
                await _drain(response)
        except TimeoutError as exc:
            raise HandlerError(f"agent service did not answer within {timeout_s:.3g}s") from exc
        except httpx.TransportError as exc:
            # The exception's text may name the URL; its class says enough (ConnectError, ReadError...).
            raise HandlerError(f"agent service unreachable: {type(exc).__name__}") from exc
        error = answer_error(response.status_code, response.headers.get("retry-after"), now=datetime.now(UTC))
        if error is not None:
            context.log.warning("forward to %s: %s", self.settings.endpoint, error)
            raise error


async def _drain(response: httpx.Response) -> None:
    if response.is_stream_consumed:  # read already (an answer made in memory)
        return
    received = 0
    async for chunk in response.aiter_raw():
        received += len(chunk)
        if received > MAX_ANSWER_BYTES:
            return


@contextlib.asynccontextmanager
async def open_forwarder() -> AsyncIterator[Forwarder]:
    """Read the `FORWARD_*` settings and open the HTTP client; close it on the way out.

    Raises:
        ConfigError: a setting is missing or wrong; one line naming it, never its value.
    """
    settings = load_forward_settings()
    # Redirects are not followed (the specification counts a 3xx as a failure); timeouts are per request.
    async with httpx.AsyncClient(follow_redirects=False) as client:
        log.info(
            "forwarding %s events of %s to %s",
            ",".join(settings.forward_types),
            ",".join(settings.forward_providers),
            settings.endpoint,
        )
        yield Forwarder(settings, client)
