"""Running an event's handlers: side by side, each within its own limits, timeout and `Context`, measured.

Shared by the worker and by `python -m consumers replay`, so a replayed event runs exactly as a live one. The
runner also enters the handler modules' lifespans (`lifespan`), whose values are the handlers' `context.state`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from consumers.deadlines import Deadlines
from consumers.errors import HandlerTimeout, StartupError
from consumers.handlers import Context, Event
from consumers.limits import HandlerLimits
from consumers.metrics import ConsumerMetrics
from consumers.registry import Handler, Registry
from consumers.settings import Settings

if TYPE_CHECKING:
    from consumers.tracing import Tracing

log = logging.getLogger(__name__)
# Handlers log through this one (bound to the event), so their lines can be told apart from the worker's.
handler_log = logging.getLogger("consumers.handlers")


@dataclass(slots=True)
class Runs:
    """What became of the handlers asked to run for one event.

    Attributes:
        succeeded: those that returned.
        failed: those that raised (or ran past their timeout), with the error.
        unstarted: those that never started: the record was dropped first (`gone()`).
    """

    succeeded: list[Handler] = field(default_factory=list)
    failed: dict[Handler, BaseException] = field(default_factory=dict)
    unstarted: list[Handler] = field(default_factory=list)


class HandlerRunner:
    """Runs handlers of a registry for an event.

    Args:
        registry: the handlers.
        metrics: handler duration and in-flight count.
        group: the consumer group, a metrics label.
        timeout_s: per handler run, where the handler sets none (`CONSUMER_HANDLER_TIMEOUT_S`).
        max_attempts: where the handler sets none (`CONSUMER_MAX_ATTEMPTS`).
        concurrency: most handler runs at once over all handlers (`CONSUMER_CONCURRENCY`).
        tracing: a `handler <name>` span per call (`consumers.tracing`); None, the default, is off.
    """

    def __init__(
        self,
        registry: Registry[Any],
        metrics: ConsumerMetrics,
        *,
        group: str,
        timeout_s: float,
        max_attempts: int,
        concurrency: int,
        tracing: Tracing | None = None,
    ) -> None:
        self.registry = registry
        self._metrics = metrics
        self._group = group
        self._timeout_s = timeout_s
        self._max_attempts = max_attempts
        self.concurrency = concurrency
        self._limits = HandlerLimits(concurrency)
        self._tracing = tracing
        self._states: dict[Registry[Any], object] = {}
        self._deadlines = Deadlines()
        # Per provider, the events whose handlers run now (`report_in_flight`).
        self.in_flight: dict[str, int] = {}

    @classmethod
    def from_settings(
        cls, settings: Settings, registry: Registry[Any], metrics: ConsumerMetrics, *, tracing: Tracing | None = None
    ) -> HandlerRunner:
        """The runner of the group's handlers, for a worker or a replay."""
        return cls(
            registry,
            metrics,
            group=settings.consumer_group,
            timeout_s=settings.consumer_handler_timeout_s,
            max_attempts=settings.consumer_max_attempts,
            concurrency=settings.consumer_concurrency,
            tracing=tracing,
        )

    def timeout_s(self, handler: Handler) -> float:
        """The handler's timeout per run, in seconds."""
        return handler.timeout_s if handler.timeout_s is not None else self._timeout_s

    def max_attempts(self, handler: Handler) -> int:
        """The handler's runs before its failure dead-letters the event."""
        return handler.max_attempts if handler.max_attempts is not None else self._max_attempts

    @property
    def longest_timeout_s(self) -> float:
        """The longest any handler may run."""
        return max([self._timeout_s, *(self.timeout_s(handler) for handler in self.registry.handlers)])

    @contextlib.asynccontextmanager
    async def lifespan(self) -> AsyncIterator[None]:
        """Enter the lifespan of every handler module, in order, and exit them in reverse on the way out.

        Raises:
            StartupError: a lifespan failed to start; the message names it.
        """
        async with contextlib.AsyncExitStack() as stack:
            for owner in self.registry.owners:
                if owner.lifespan is None:
                    continue
                try:
                    self._states[owner] = await stack.enter_async_context(owner.lifespan())
                except Exception as exc:
                    name = getattr(owner.lifespan, "__qualname__", repr(owner.lifespan))
                    module = getattr(owner.lifespan, "__module__", "")
                    raise StartupError(
                        f"the lifespan {module}.{name} failed to start: {type(exc).__name__}: {exc}"
                    ) from exc
            try:
                yield
            finally:
                self._states.clear()

    async def run(
        self,
        event: Event[Any],
        handlers: Sequence[Handler],
        *,
        attempt: int,
        gone: Callable[[], bool] = lambda: False,
        succeeded: Callable[[Handler], Awaitable[None]] | None = None,
        task: asyncio.Task[Any] | None = None,
    ) -> Runs:
        """Run `handlers` for the event side by side; what became of each.

        Args:
            attempt: the attempt of this run, for `Context`.
            gone: true once the record was dropped (revoked, shutting down): handlers not started yet never are.
            succeeded: awaited as each handler returns, before the event moves on (a success mark).
            task: the current task, where the caller has it at hand: `asyncio.current_task()` makes a system call
                (`getpid`) every time.
        """
        runs = Runs()
        if not handlers:
            return runs
        provider = event.provider
        in_flight = self.in_flight
        in_flight[provider] = in_flight.get(provider, 0) + 1
        try:
            if len(handlers) == 1:
                await self._one(handlers[0], event, attempt, gone, runs, succeeded, task)
            else:
                await asyncio.gather(
                    *(self._one(handler, event, attempt, gone, runs, succeeded, None) for handler in handlers)
                )
        finally:
            in_flight[provider] -= 1
        return runs

    def track(self, providers: Iterable[str]) -> None:
        """Report `webhooks_handlers_in_flight` for these providers from now on, 0 until their handlers run (a
        gauge that appeared only with a provider's first event would leave its dashboard panel empty)."""
        for provider in providers:
            self.in_flight.setdefault(provider, 0)
        self.report_in_flight()

    def report_in_flight(self) -> None:
        """Set `webhooks_handlers_in_flight` to the events whose handlers run now (the worker does, once per fetch:
        a gauge moved twice per event cost more than the rest of a small event's run)."""
        for provider, running in self.in_flight.items():
            self._metrics.in_flight_of(provider, self._group).set(running)

    async def _one(
        self,
        handler: Handler,
        event: Event[Any],
        attempt: int,
        gone: Callable[[], bool],
        runs: Runs,
        succeeded: Callable[[Handler], Awaitable[None]] | None,
        task: asyncio.Task[Any] | None,
    ) -> None:
        await self._limits.enter(handler)
        try:
            if gone():
                runs.unstarted.append(handler)
                return
            if self._tracing is None:
                error = await self._call(handler, event, attempt, task)
            else:
                with self._tracing.step(f"handler {handler.name}") as span:
                    error = await self._call(handler, event, attempt, task)
                    if error is not None:
                        self._tracing.failed(span, error)
        finally:
            self._limits.leave(handler)
        if error is not None:
            runs.failed[handler] = error
            return
        if succeeded is not None:
            await succeeded(handler)
        runs.succeeded.append(handler)

    async def _call(
        self, handler: Handler, event: Event[Any], attempt: int, task: asyncio.Task[Any] | None
    ) -> BaseException | None:
        timeout_s = self.timeout_s(handler)
        if task is None:
            task = asyncio.current_task()
            assert task is not None
        started = time.perf_counter()
        context = Context.of_run(
            event,
            handler_log,
            attempt=attempt,
            max_attempts=self.max_attempts(handler),
            deadline=self._deadlines.start(task, timeout_s),
            state=self._state(handler),
        )
        error: BaseException | None = None
        try:
            await handler.func(event.typed() if self.registry.typed(handler) else event, context)
        except (Exception, asyncio.CancelledError) as exc:
            error = exc
        finally:
            timed_out = self._deadlines.finish(task, timeout_s)
            self._metrics.handler_duration_of(event.provider, self._group, handler.name).observe(
                time.perf_counter() - started
            )
        if error is None:
            return None
        if isinstance(error, asyncio.CancelledError):
            if timed_out:
                error = HandlerTimeout(f"{handler.name} ran past {timeout_s}s")
            elif task.cancelling():
                raise error
            # Otherwise a CancelledError raised, not sent (the handler awaited something cancelled elsewhere): a
            # failure like any other.
        log.warning("event %s attempt %d: %s failed: %s", event.id, attempt, handler.name, type(error).__name__)
        return error

    def _state(self, handler: Handler) -> object:
        if handler.owner.lifespan is None:
            return None
        try:
            return self._states[handler.owner]
        except KeyError:
            raise RuntimeError(f"{handler.name} runs outside its module's lifespan (HandlerRunner.lifespan)") from None
