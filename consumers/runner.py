"""Running an event's handlers: one after the other, each with a timeout and a `Context`, measured.

Shared by the worker and by `python -m consumers replay`, so a replayed event runs exactly as a live one.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import TYPE_CHECKING, Any

from consumers.errors import HandlerTimeout
from consumers.handlers import Context, Event, EventLogger, Handler, bound_logger
from consumers.metrics import ConsumerMetrics
from consumers.registry import Registry
from consumers.settings import Settings

if TYPE_CHECKING:
    from prometheus_client import Histogram

    from consumers.tracing import Tracing

log = logging.getLogger(__name__)
# Handlers log through this one (bound to the event), so their lines can be told apart from the worker's.
handler_log = logging.getLogger("consumers.handlers")


class HandlerRunner:
    """Runs the handlers a registry has for an event.

    Args:
        registry: the handlers.
        metrics: handler duration and in-flight count.
        group: the consumer group, a metrics label.
        timeout_s: per handler call (`CONSUMER_HANDLER_TIMEOUT_S`).
        max_attempts: `CONSUMER_MAX_ATTEMPTS`, for `Context.last_attempt`.
        tracing: a `handler <name>` span per call (`consumers.tracing`); None, the default, is off.
    """

    def __init__(
        self,
        registry: Registry,
        metrics: ConsumerMetrics,
        *,
        group: str,
        timeout_s: float,
        max_attempts: int,
        tracing: Tracing | None = None,
    ) -> None:
        self._registry = registry
        self._metrics = metrics
        self._group = group
        self._timeout_s = timeout_s
        self._max_attempts = max_attempts
        self._tracing = tracing

    @classmethod
    def from_settings(
        cls, settings: Settings, registry: Registry, metrics: ConsumerMetrics, *, tracing: Tracing | None = None
    ) -> HandlerRunner:
        """The runner of the group's handlers, for a worker or a replay."""
        return cls(
            registry,
            metrics,
            group=settings.consumer_group,
            timeout_s=settings.consumer_handler_timeout_s,
            max_attempts=settings.consumer_max_attempts,
            tracing=tracing,
        )

    async def run(self, event: Event[Any], provider: str) -> BaseException | None:
        """Run every handler of the event in registration order; the first error stops them and is returned.

        A handler that runs past the timeout is cancelled and reported as `HandlerTimeout`.
        """
        duration = self._metrics.handler_duration.labels(provider, self._group)
        in_flight = self._metrics.in_flight.labels(provider, self._group)
        logger = bound_logger(handler_log, event_id=event.id, event_type=event.type, attempt=event.attempt)
        in_flight.inc()
        try:
            for handler in self._registry.calls_for(event.provider, event.type):
                if self._tracing is None:
                    error = await self._call(handler, event, logger, duration, event.traceparent)
                else:
                    with self._tracing.step(f"handler {_name(handler)}") as span:
                        error = await self._call(handler, event, logger, duration, self._tracing.traceparent(span))
                        if error is not None:
                            self._tracing.failed(span, error)
                if error is not None:
                    return error
            return None
        finally:
            in_flight.dec()

    async def _call(
        self, handler: Handler, event: Event[Any], logger: EventLogger, duration: Histogram, traceparent: str | None
    ) -> BaseException | None:
        started = time.perf_counter()
        deadline = asyncio.timeout(self._timeout_s)
        context = Context(
            attempt=event.attempt,
            max_attempts=self._max_attempts,
            deadline=time.monotonic() + self._timeout_s,
            idempotency_key=event.idempotency_key,
            log=logger,
            traceparent=traceparent,
        )
        try:
            async with deadline:
                await handler(event, context)
        except (Exception, asyncio.CancelledError) as exc:
            task = asyncio.current_task()
            if isinstance(exc, asyncio.CancelledError) and (task is None or task.cancelling()):
                raise
            # A CancelledError raised, not sent (the handler awaited something cancelled elsewhere) is a
            # failure like any other.
            error: BaseException = exc
            if isinstance(exc, TimeoutError) and deadline.expired():
                error = HandlerTimeout(f"{_name(handler)} ran past {self._timeout_s}s")
            log.warning(
                "event %s attempt %d: %s failed: %s", event.id, event.attempt, _name(handler), type(error).__name__
            )
            return error
        finally:
            duration.observe(time.perf_counter() - started)
        return None


def _name(handler: object) -> str:
    return getattr(handler, "__qualname__", None) or repr(handler)
