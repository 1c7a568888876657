"""The Redis claim protocol that makes at-least-once delivery effectively-once per consumer group.

An event of a group has a claim key, `webhooks:idem:{<group>:<provider>:<shard>}:<event id>`, holding a
claim token with a lease in milliseconds while a member handles it. Once handled, the claim key is deleted
and the event's 16-byte digest goes into the group's compact done-mark tables for the provider's remember
window (`consumers.scripts` has the layout; `consumers.windows` the windows). An event with several handlers
also has, while it is unfinished, a hash of the handlers that succeeded for it at
`webhooks:handled:{<group>:<provider>:<shard>}:<event id>` (`handled_key`), deleted when it is marked done.
Every operation takes all the events of a fetched batch and is one Lua script call: one round trip per batch,
never one per event. On a Redis Cluster it is one call per hash slot, all pipelined at once (one round trip
per node).
"""

from __future__ import annotations

import asyncio
import enum
import hashlib
import time
from collections.abc import Awaitable, Callable, Iterable, Sequence
from typing import NamedTuple, Protocol, TypeVar

import redis.asyncio
import redis.exceptions
from redis.crc import key_slot
from redis.typing import EncodableT

from consumers import scripts
from consumers.errors import StoreUnavailable
from consumers.windows import RememberWindows

# The public key layout of docs/contract.md; operators grep for it.
KEY_PREFIX = "webhooks:idem:"
DONE_PREFIX = "webhooks:done:"
HANDLED_PREFIX = "webhooks:handled:"
# The value the layout before this one left at `webhooks:idem:<group>:<provider>:<event id>` once handled:
# honoured until it expires (a claim token there is honoured as a live claim).
DONE = "done"
# Each group and provider's events are spread over this many shards: hash tags, so slots on a Redis Cluster
# (64 spread well over a few dozen masters), each with its own done tables (fewer keep more digests a hash).
SHARDS = 64
# Digest size in bytes: 128 bits, so two distinct event ids never pass for one another.
DIGEST_BYTES = 16
# Held claims are renewed this many times a lease, and a renewal waits this part of the lease at most: one that
# fails or is abandoned leaves time for the next inside the lease.
RENEWALS_PER_LEASE = 3

T = TypeVar("T")
Client = redis.asyncio.Redis | redis.asyncio.RedisCluster


class Claim(enum.Enum):
    """What a claim attempt found."""

    CLAIMED = 0
    """The key was free: it is ours now, for the lease."""
    DONE = 1
    """The event was handled already: a duplicate."""
    HELD = 2
    """Another live claim holds it: leave it to that one, and ask again later."""


# By code, as the script answers (`Claim(code)`, without the enum's lookup per event).
_CLAIMS = tuple(sorted(Claim, key=lambda claim: claim.value))


class ClaimStore(Protocol):
    """What the exactly-once core asks of its store, one batch per call (`IdempotencyStore` in Redis; an in-memory
    fake in the tests). Every method raises `StoreUnavailable` when the store did not answer."""

    async def claim(self, keys: Sequence[str], token: str, lease_ms: int, *, force: bool = False) -> list[Claim]:
        """Claim each event that is neither done nor held by a live claim (`force`: done ones too)."""
        ...

    async def is_done(self, keys: Sequence[str]) -> list[bool]:
        """Whether each event is done, claiming nothing."""
        ...

    async def complete(self, keys: Sequence[str], token: str) -> list[bool]:
        """Mark events done where our claim holds them or nobody's does; True where it did."""
        ...

    async def release(self, keys: Sequence[str], token: str) -> list[bool]:
        """Delete the claims that are still ours; True where it did."""
        ...

    async def renew(self, keys: Sequence[str], token: str, lease_ms: int) -> list[bool]:
        """Extend the claims that are still ours; True where it did."""
        ...

    async def handled(self, keys: Sequence[str]) -> list[set[str]]:
        """The handlers that succeeded for each unfinished event."""
        ...

    async def mark(self, marks: Sequence[tuple[str, str]]) -> list[bool]:
        """Mark `(claim key, handler name)` succeeded for unfinished events."""
        ...


def _digest(event_id: str) -> bytes:
    return hashlib.blake2b(event_id.encode("utf-8", "surrogatepass"), digest_size=DIGEST_BYTES).digest()


def claim_key(group: str, provider: str, event_id: str) -> str:
    """The claim key of an event for a consumer group; its hash tag places all the event's keys in one slot.

    `event_id` is the envelope's `scoped_id`: `<tenant>/<id>` for an event of a tenant, so two tenants'
    events with one provider id have two keys and two digests.
    """
    digest = _digest(event_id)
    key = f"{KEY_PREFIX}{{{group}:{provider}:{digest[0] % SHARDS:02x}}}:{event_id}"
    if key not in _EVENTS:
        _remember(key, group, provider, event_id, digest)
    return key


def handled_key(key: str) -> str:
    """The key of the handlers that succeeded for an unfinished event, beside its claim key (same hash tag)."""
    return HANDLED_PREFIX + key[len(KEY_PREFIX) :]


class _Event(NamedTuple):
    key: bytes
    legacy_key: bytes
    provider: str
    digest: bytes


# The events of the latest claim keys (`claim_key` makes them, `_event` reads them): claimed and completed within
# moments of each other (a batch's two calls), an event's key is parsed, hashed and encoded once for both.
_EVENTS: dict[str, _Event] = {}
_EVENTS_KEPT = 16_384


def _event(key: str) -> _Event:
    event = _EVENTS.get(key)
    if event is None:
        # The inverse of `claim_key`: group and provider names hold no ':' or '}' (settings check them).
        tag, _, event_id = key[len(KEY_PREFIX) + 1 :].partition("}:")
        group, provider, _ = tag.split(":")
        event = _remember(key, group, provider, event_id, _digest(event_id))
    return event


def _remember(key: str, group: str, provider: str, event_id: str, digest: bytes) -> _Event:
    if len(_EVENTS) >= _EVENTS_KEPT:
        _EVENTS.clear()  # at worst an event is parsed once more
    event = _EVENTS[key] = _Event(key.encode(), f"{KEY_PREFIX}{group}:{provider}:{event_id}".encode(), provider, digest)
    return event


class _Script:
    def __init__(self, text: str) -> None:
        self.text = text
        self.sha = hashlib.sha1(text.encode()).hexdigest()  # noqa: S324 - Redis names scripts by SHA-1


class IdempotencyStore:
    """Claims, completions and releases of events, batched.

    Args:
        client: a `redis.asyncio.Redis`, or a `redis.asyncio.RedisCluster`; the caller owns (and closes) it.
        windows: how long each provider's handled events are remembered; the documented windows by default.
        clock: the time in epoch seconds (tests move it).
    """

    def __init__(
        self, client: Client, *, windows: RememberWindows | None = None, clock: Callable[[], float] = time.time
    ) -> None:
        self._client = client
        self._cluster = isinstance(client, redis.asyncio.RedisCluster)
        self._windows = windows if windows is not None else RememberWindows.build(7 * 24 * 3600, {})
        self._clock = clock
        self._claim = _Script(scripts.CLAIM)
        self._complete = _Script(scripts.COMPLETE)
        self._is_done = _Script(scripts.IS_DONE)
        self._release = _Script(scripts.RELEASE)
        self._renew = _Script(scripts.RENEW)

    async def claim(self, keys: Sequence[str], token: str, lease_ms: int, *, force: bool = False) -> list[Claim]:
        """Claim every event that is neither done nor claimed; one result per key, in order.

        Args:
            force: claim events that are done as well (a forced replay); live claims are never taken.

        Raises:
            StoreUnavailable: Redis did not answer, or refused the call.
        """
        head: list[EncodableT] = [token, lease_ms, "1" if force else "0", self._stride, DONE_PREFIX, scripts.SPAN]
        codes = await self._run(self._claim, keys, head, self._lookup_args, with_legacy=True)
        return [_CLAIMS[code] for code in codes]

    async def is_done(self, keys: Sequence[str]) -> list[bool]:
        """Whether each event is done, without claiming anything.

        Raises:
            StoreUnavailable: Redis did not answer, or refused the call.
        """
        head: list[EncodableT] = [self._stride, DONE_PREFIX, scripts.SPAN]
        return [bool(code) for code in await self._run(self._is_done, keys, head, self._lookup_args, with_legacy=True)]

    async def complete(self, keys: Sequence[str], token: str) -> list[bool]:
        """Mark events done for their provider's remember window where our claim still holds them (or nobody's
        does); True where it did.

        Raises:
            StoreUnavailable: Redis did not answer, or refused the call.
        """
        head: list[EncodableT] = [token, DONE_PREFIX, KEY_PREFIX, HANDLED_PREFIX]
        codes = await self._run(self._complete, keys, head, self._complete_args)
        return [bool(code) for code in codes]

    async def handled(self, keys: Sequence[str]) -> list[set[str]]:
        """The names of the handlers that succeeded for each unfinished event (none for a done one).

        Raises:
            StoreUnavailable: Redis did not answer, or refused the call.
        """

        async def read() -> list[set[str]]:
            pipe = self._client.pipeline()
            for key in keys:
                pipe.hkeys(handled_key(key))
            return [{name.decode() for name in names} for names in await pipe.execute()]

        return await self._call(read) if keys else []

    async def mark(self, marks: Sequence[tuple[str, str]]) -> list[bool]:
        """Mark handlers succeeded for unfinished events, `(claim key, handler name)` each, for the provider's
        remember window at most (the event's `done` deletes them sooner); True for each.

        Raises:
            StoreUnavailable: Redis did not answer, or refused the call.
        """

        async def write() -> list[bool]:
            pipe = self._client.pipeline()
            for key, name in marks:
                pipe.hset(handled_key(key), name, "")
                pipe.expire(handled_key(key), self._windows.of(_event(key).provider))
            await pipe.execute()
            return [True] * len(marks)

        return await self._call(write) if marks else []

    async def release(self, keys: Sequence[str], token: str) -> list[bool]:
        """Delete claims that are still ours, so a retry can claim the events; True where it did.

        Raises:
            StoreUnavailable: Redis did not answer, or refused the call.
        """
        return [bool(code) for code in await self._run(self._release, keys, [token])]

    async def renew(self, keys: Sequence[str], token: str, lease_ms: int) -> list[bool]:
        """Extend our claims' leases to `lease_ms` from now; True where the claim was still ours.

        A call Redis has not answered within a third of the lease is abandoned, however long the client's socket
        timeout: renewals are a third of a lease apart (`consumers.claims.next_renewal`), so the next one still
        lands inside the lease. redis-py closes a connection whose call is cancelled, so its late reply is never
        read as another call's.

        Raises:
            StoreUnavailable: Redis did not answer (in time), or refused the call.
        """
        try:
            async with asyncio.timeout(lease_ms / RENEWALS_PER_LEASE / 1000):
                codes = await self._run(self._renew, keys, [token, lease_ms])
        except TimeoutError as exc:
            # Only the bound's: `_call` turns the socket's own timeouts into StoreUnavailable.
            raise StoreUnavailable(
                f"Redis did not answer a renewal within a third of the lease ({lease_ms // RENEWALS_PER_LEASE} ms)"
            ) from exc
        return [bool(code) for code in codes]

    # ------------------------------------------------------------------------------------------ calls

    @property
    def _stride(self) -> int:
        # Keys per event: its claim key, and on a single Redis the claim key of the layout before.
        return 1 if self._cluster else 2

    def _bucket(self, provider: str) -> tuple[int, int]:
        # The provider's current time bucket, and when its table expires: a window after the bucket ends.
        width_s = -(-self._windows.of(provider) // scripts.SPAN)
        bucket = int(self._clock()) // width_s
        return bucket, (bucket + 1 + scripts.SPAN) * width_s

    def _lookup_args(self, provider: str) -> list[EncodableT]:
        # After each event's digest, in a lookup: the provider's bucket.
        return [str(self._bucket(provider)[0]).encode()]

    def _complete_args(self, provider: str) -> list[EncodableT]:
        # After each event's digest, in a completion: the provider's bucket and when its table expires.
        return [str(number).encode() for number in self._bucket(provider)]

    async def _run(
        self,
        script: _Script,
        keys: Sequence[str],
        head: list[EncodableT],
        per_event: Callable[[str], list[EncodableT]] | None = None,
        *,
        with_legacy: bool = False,
    ) -> list[int]:
        # `per_event(provider)`: what follows each event's digest in the arguments, the same for a provider's events.
        if not keys:
            return []
        events = [_event(key) for key in keys] if per_event is not None else []
        legacy = with_legacy and not self._cluster

        def call_args(indexes: Iterable[int]) -> list[EncodableT]:
            # Built in one pass, each key encoded once per event (`_event`): a batch's claim has 2,000 arguments.
            call_keys: list[EncodableT] = []
            args = list(head)
            tails: dict[str, list[EncodableT]] = {}
            for i in indexes:
                if per_event is None:
                    call_keys.append(keys[i])
                    continue
                event = events[i]
                call_keys.append(event.key)
                if legacy:
                    call_keys.append(event.legacy_key)
                tail = tails.get(event.provider)
                if tail is None:
                    tail = tails[event.provider] = per_event(event.provider)
                args.append(event.digest)
                args += tail
            return [script.sha, len(call_keys), *call_keys, *args]

        if not self._cluster:
            [codes] = await self._call(lambda: self._evalsha(script, [call_args(range(len(keys)))]))
            return [int(code) for code in codes]
        by_slot: dict[int, list[int]] = {}
        for i, key in enumerate(keys):
            by_slot.setdefault(key_slot(key.encode()), []).append(i)
        groups = list(by_slot.values())
        replies = await self._call(lambda: self._evalsha(script, [call_args(group) for group in groups]))
        result = [0] * len(keys)
        for group, codes in zip(groups, replies, strict=True):
            for i, code in zip(group, codes, strict=True):
                result[i] = int(code)
        return result

    async def _call(self, call: Callable[[], Awaitable[T]]) -> T:
        # Every error Redis answers with is a condition to wait out, never a reason to drop a record: besides the
        # outages (no connection, LOADING, READONLY after a failover) a production Redis refuses calls with
        # NOREPLICAS, MISCONF, BUSY, NOPERM, OOM, MOVED or CROSSSLOT until an operator or the server itself fixes
        # the cause. The worker backs off and calls again; the log line names Redis's error code, never a key.
        try:
            return await call()
        except redis.exceptions.ReadOnlyError as exc:
            # A failover behind one address (DNS, a proxy): the pooled connections still reach the demoted node,
            # new ones reach the new primary. Drop them all, rather than fail on each of them in turn.
            pool = getattr(self._client, "connection_pool", None)
            if pool is not None:
                await pool.disconnect()
            raise StoreUnavailable(f"Redis did not take the call: {_reason(exc)}") from exc
        except (redis.exceptions.RedisError, redis.exceptions.RedisClusterException, OSError) as exc:
            # RedisClusterException (SlotNotCoveredError: a slot without a master, for now) is no RedisError.
            raise StoreUnavailable(f"Redis did not take the call: {_reason(exc)}") from exc
        except RuntimeError as exc:
            # uvloop refuses a write to a connection another call's failure has just closed ("the handler is
            # closed", seen while a cluster master fails over), where asyncio's own loop drops it: an outage too.
            if "closed" not in str(exc):
                raise
            raise StoreUnavailable("Redis is unavailable: a connection closed under the call") from exc

    async def _evalsha(self, script: _Script, calls: list[list[EncodableT]]) -> list[list[int]]:
        # A single Redis gets one call; a cluster one call per slot, pipelined to each node at once.
        for attempt in range(2):
            try:
                if not self._cluster:
                    return [await self._client.execute_command("EVALSHA", *call) for call in calls]
                pipe = self._client.pipeline()
                for call in calls:
                    pipe.execute_command("EVALSHA", *call)
                return list(await pipe.execute())
            except redis.exceptions.NoScriptError:
                if attempt:
                    raise
                # A new server, a restarted one, or a replica promoted since: load the script (on every primary).
                await self._client.script_load(script.text)
            except AttributeError as exc:
                # redis-py's cluster pipeline writing to a connection that another call's failure has just closed
                # (seen while a master fails over): an outage like the others, so the batch is tried again.
                raise StoreUnavailable("Redis is unavailable: a cluster connection closed under the pipeline") from exc
        raise AssertionError("unreachable")


def _reason(exc: BaseException) -> str:
    # redis-py strips the code of the errors it has a class for (NoPermissionError) and keeps it in
    # `status_code`; for the others (NOREPLICAS, MISCONF, BUSY) it is the message's first word.
    name = type(exc).__name__
    if not isinstance(exc, redis.exceptions.ResponseError):
        return name
    code = getattr(exc, "status_code", None) or (str(exc).split(" ", 1)[0] if str(exc) else "")
    return f"{name} {code}" if code.isupper() else name
