"""The receiver's side of the registry: read all of it before saying ready, then follow it.

Every receiver process (each of `RECEIVER_WORKERS`) runs one thread that reads the topic (log.py), opens the
secrets, builds the sources and hands each batch of changes to the event loop, which puts them in the route
(`WebhookRoute.put` / `remove`) in one go: a request sees a source as it was before a change or after it.

Until the whole topic has been read, `/readyz` says not ready and a source the route does not know yet gets a
503 (the provider retries) rather than a 404. A secret kept by a rotation stops being accepted when its window
ends, within a second. A record that can't be used (not a definition, a secret that does not open) is
logged, counted (`webhooks_registry_unreadable_total`) and not served: while the topic is first read, only if
no later record of its source replaces it (records a rotation or `reencrypt` replaced stay until Kafka
compacts them, and after a master key rotation they no longer open). A name that the sources file or the
environment defines stays theirs.
"""

from __future__ import annotations

import asyncio
import gc
import heapq
import logging
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime

from pydantic import ValidationError

from receiver.errors import ConfigError, RegistryUnavailable, SealError, Unavailable
from receiver.metrics import ReceiverMetrics
from receiver.registry.definition import SourceDefinition, build_source
from receiver.registry.keyring import Keyring
from receiver.registry.log import Change, RegistryReader, ensure_event_topics, ensure_topic, write
from receiver.routes import WebhookRoute
from receiver.settings import ReceiverSettings, describe_validation_error
from receiver.sources import Source

logger = logging.getLogger(__name__)

# How long one poll blocks, seconds: also the granularity of secret expiry and of stopping.
_POLL_S = 0.2
_RETRY_S = (0.5, 1.0, 2.0, 5.0)


class RegistryFollower:
    """Keeps a route's registry sources in step with the registry's topic.

    Args:
        settings: Kafka, the topic, the replay window and the tenants labelled on the metrics.
        keyring: the master keys that open the secrets.
        route: where the sources are served.
        metrics: the receiver's metrics.
        static_names: the sources of the file and the environment, which the registry can't replace.
        static_topics: their topics, which the publisher creates.
        clock: seconds since the epoch (tests move it).
    """

    def __init__(
        self,
        settings: ReceiverSettings,
        keyring: Keyring,
        route: WebhookRoute,
        metrics: ReceiverMetrics,
        *,
        static_names: frozenset[str] = frozenset(),
        static_topics: frozenset[str] = frozenset(),
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._settings = settings
        self._keyring = keyring
        self._route = route
        self._metrics = metrics
        self._static = static_names
        self._clock = clock
        self._labelled = settings.labelled_tenants
        self._definitions: dict[str, SourceDefinition] = {}
        self._expiries: list[tuple[datetime, str]] = []
        self._served: set[str] = set()
        # Sources whose captured secret is being written (on the event loop, like the route).
        self._capturing: set[str] = set()
        # Until the first read reaches the end, why each source's latest record can't be used: a later record of
        # it (one a rotation or a `reencrypt` wrote, not compacted away yet) may still replace it.
        self._caught_up = False
        self._held_back: dict[str, str] = {}
        self._topics = set(static_topics)
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._started_at = 0.0
        self.ready = False

    def start(self) -> None:
        """Start reading in the background (from the event loop that serves the route)."""
        self._loop = asyncio.get_running_loop()
        self._route.complete = False
        self._started_at = time.monotonic()
        self._thread = threading.Thread(target=self._run, name="source-registry", daemon=True)
        self._thread.start()

    async def stop(self) -> None:
        self._stopping.set()
        if self._thread is not None:
            await asyncio.to_thread(self._thread.join)

    # ------------------------------------------------------------------------------------------ thread

    def _run(self) -> None:
        reader = self._connect()
        if reader is None:
            return
        try:
            announced = False
            position = handed = 0
            while not self._stopping.is_set():
                try:
                    changes = reader.poll(_POLL_S)
                except RegistryUnavailable as exc:
                    logger.error("the source registry can't be read (%s): the sources stay as they are", exc)
                    self._stopping.wait(_RETRY_S[-1])
                    continue
                built: dict[str, Source | None] = {}
                for change in changes:
                    position = change.offset + 1
                    if change.key in self._static:
                        logger.warning(
                            "registry source %s is ignored: the sources file or environment defines it", change.key
                        )
                        continue
                    built[change.key] = self._take(change)
                built.update(self._expired())
                if reader.at_end and not self._caught_up:
                    self._caught_up = True
                    for name, why in self._held_back.items():
                        self._report_unreadable(name, why)
                    self._held_back.clear()
                self._create_topics(built)
                # Records that change nothing served (a name the file holds) still move the position on.
                if built or position != handed or (reader.at_end and not announced):
                    announced, handed = announced or reader.at_end, position
                    if not self._hand_over(built, position, reader.at_end):
                        return
        finally:
            reader.close()

    def _connect(self) -> RegistryReader | None:
        attempt = 0
        while not self._stopping.is_set():
            try:
                ensure_topic(self._settings)
                return RegistryReader(self._settings)
            except RegistryUnavailable as exc:
                delay = _RETRY_S[min(attempt, len(_RETRY_S) - 1)]
                attempt += 1
                logger.warning("the source registry's topic can't be reached (%s); retrying in %.1fs", exc, delay)
                self._stopping.wait(delay)
        return None

    def _create_topics(self, built: dict[str, Source | None]) -> None:
        # A source added at run time may name a topic nobody created yet: made before the source is served.
        new = sorted({s.topic for s in built.values() if s is not None} - self._topics)
        if not new:
            return
        try:
            ensure_event_topics(self._settings, new)
        except RegistryUnavailable as exc:
            logger.warning("topics %s could not be created (%s): their sources get 503 until they exist", new, exc)
            return
        self._topics.update(new)

    def _take(self, change: Change) -> Source | None:
        name = change.key
        self._held_back.pop(name, None)
        if change.value is None:
            self._definitions.pop(name, None)
            return None
        try:
            definition = SourceDefinition.from_bytes(change.value)
        except ValidationError as exc:
            self._unreadable(name, f"not a source definition: {describe_validation_error(exc)}")
            return None
        if definition.id != name:
            self._unreadable(name, f"its record names another source, {definition.id}")
            return None
        self._definitions[name] = definition
        return self._build(definition)

    def _build(self, definition: SourceDefinition) -> Source | None:
        now = datetime.fromtimestamp(self._clock(), UTC)
        try:
            source = self._source(definition, now)
        except (SealError, ConfigError) as exc:
            # Neither message carries a secret: they name the key id, the provider or the field.
            self._unreadable(definition.id, str(exc))
            return None
        expiry = definition.next_expiry(now)
        if expiry is not None:
            heapq.heappush(self._expiries, (expiry, definition.id))
        return source

    def _source(self, definition: SourceDefinition, now: datetime) -> Source | None:
        return build_source(
            definition,
            self._keyring,
            now=now,
            tolerance_s=self._settings.tolerance_s,
            labelled_tenants=self._labelled,
            keep_captured=self._keep_captured,
        )

    def _expired(self) -> dict[str, Source | None]:
        now = datetime.fromtimestamp(self._clock(), UTC)
        rebuilt: dict[str, Source | None] = {}
        while self._expiries and self._expiries[0][0] <= now:
            _, name = heapq.heappop(self._expiries)
            definition = self._definitions.get(name)
            if definition is not None:
                rebuilt[name] = self._build(definition)
        return rebuilt

    def _unreadable(self, name: str, why: str) -> None:
        self._definitions.pop(name, None)
        if self._caught_up:
            self._report_unreadable(name, why)
        else:
            self._held_back[name] = why

    def _report_unreadable(self, name: str, why: str) -> None:
        self._metrics.registry_unreadable.inc()
        logger.error("registry source %s is not served: %s", name, why)

    def _hand_over(self, built: dict[str, Source | None], position: int, at_end: bool) -> bool:
        loop = self._loop
        assert loop is not None
        try:
            loop.call_soon_threadsafe(self._apply, built, position, at_end)
        except RuntimeError:  # the loop closed under us: the process is stopping
            return False
        return True

    # ------------------------------------------------------------------------------------------ event loop

    async def _keep_captured(self, definition: SourceDefinition, secret: bytes) -> None:
        """A handshake gave a waiting source its secret: sealed into the registry before it is answered, so
        every receiver process (and every one that starts later) verifies the events after with it."""
        if definition.id in self._capturing:
            # A second handshake while the first one's secret is being written: retried, it meets the secret set.
            raise Unavailable("another handshake is setting this source's secret")
        now = datetime.fromtimestamp(self._clock(), UTC)
        captured = definition.captured(self._keyring.seal(secret, definition.id), now)
        self._capturing.add(definition.id)
        try:
            await asyncio.to_thread(write, self._settings, [(definition.id, captured.to_bytes())])
        except RegistryUnavailable as exc:
            # Not kept, so not answered: the provider's create call fails and is made again.
            raise Unavailable(f"the captured secret was not written to the registry ({exc})") from None
        finally:
            self._capturing.discard(definition.id)
        # Served by this process at once (no second handshake can set it here); the others as they follow.
        source = self._source(captured, now)
        if source is not None:
            self._route.put(source)
        logger.info("registry source %s: its secret was set by its %s handshake", definition.id, definition.provider)

    def _apply(self, built: dict[str, Source | None], position: int, at_end: bool) -> None:
        for name, source in built.items():
            if source is None:
                self._route.remove(name)
                self._served.discard(name)
            else:
                self._route.put(source)
                self._served.add(name)
            if self.ready:
                logger.info("registry source %s %s", name, "removed" if source is None else "in place")
        self._metrics.registry_sources.set(len(self._served))
        self._metrics.registry_position.set(position)
        if at_end and not self.ready:
            # As __main__ does with the rest of start-up state: thousands of long-lived sources left in the
            # collector's generations would be walked by every full collection.
            gc.freeze()
            self.ready = True
            self._route.complete = True
            logger.info(
                "source registry %s read: %d sources served, in %.2f s",
                self._settings.registry_topic,
                len(self._served),
                time.monotonic() - self._started_at,
            )
