"""The Redis claim protocol that makes at-least-once delivery effectively-once per consumer group.

One key per (group, provider, event id) holds either a claim token (a member is handling the event, with a
lease in milliseconds) or `done` (handled; kept `CONSUMER_DONE_TTL_S`). Every operation takes all the
keys of a fetched batch and is one Lua script call: one round trip per batch, never one per event.
"""

from __future__ import annotations

import enum
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, TypeVar

import redis.asyncio
import redis.exceptions

from consumers.errors import StoreUnavailable

# The public key layout of DESIGN.md: `webhooks:idem:<group>:<provider>:<event id>`; operators grep for it.
KEY_PREFIX = "webhooks:idem:"
# The value of a key whose event was handled; a claim token is random hex, so it never equals this.
DONE = "done"

T = TypeVar("T")


class Claim(enum.Enum):
    """What a claim attempt found."""

    CLAIMED = 0
    """The key was free: it is ours now, for the lease."""
    DONE = 1
    """The event was handled already: a duplicate."""
    HELD = 2
    """Another live claim holds it: leave it to that one, and ask again later."""


# KEYS: the keys; ARGV[1]: our token, ARGV[2]: the lease in ms. Returns one Claim value per key.
_CLAIM = """
local result = {}
for i, key in ipairs(KEYS) do
    if redis.call('SET', key, ARGV[1], 'NX', 'PX', ARGV[2]) then
        result[i] = 0
    elseif redis.call('GET', key) == 'done' then
        result[i] = 1
    else
        result[i] = 2
    end
end
return result
"""

# KEYS: the keys; ARGV[1]: our token, ARGV[2]: the done TTL in s. Returns 1 per key we marked done.
_COMPLETE = """
local result = {}
for i, key in ipairs(KEYS) do
    if redis.call('GET', key) == ARGV[1] then
        redis.call('SET', key, 'done', 'EX', ARGV[2])
        result[i] = 1
    else
        result[i] = 0
    end
end
return result
"""

# KEYS: the keys; ARGV[1]: our token. Returns 1 per key we deleted.
_RELEASE = """
local result = {}
for i, key in ipairs(KEYS) do
    if redis.call('GET', key) == ARGV[1] then
        redis.call('DEL', key)
        result[i] = 1
    else
        result[i] = 0
    end
end
return result
"""

# KEYS: the keys; ARGV[1]: our token, ARGV[2]: the lease in ms. Returns 1 per key whose lease we renewed.
_RENEW = """
local result = {}
for i, key in ipairs(KEYS) do
    if redis.call('GET', key) == ARGV[1] then
        redis.call('PEXPIRE', key, ARGV[2])
        result[i] = 1
    else
        result[i] = 0
    end
end
return result
"""


def idempotency_key(group: str, provider: str, event_id: str) -> str:
    """The Redis key of an event for a consumer group."""
    return f"{KEY_PREFIX}{group}:{provider}:{event_id}"


class IdempotencyStore:
    """Claims, completions and releases of events, batched.

    Args:
        client: a `redis.asyncio.Redis`; the caller owns (and closes) it.
    """

    def __init__(self, client: redis.asyncio.Redis) -> None:
        self._claim = client.register_script(_CLAIM)
        self._complete = client.register_script(_COMPLETE)
        self._release = client.register_script(_RELEASE)
        self._renew = client.register_script(_RENEW)

    async def claim(self, keys: Sequence[str], token: str, lease_ms: int) -> list[Claim]:
        """Try to claim every key with `SET NX PX`; one result per key, in order.

        Raises:
            StoreUnavailable: Redis did not answer.
        """
        if not keys:
            return []
        codes = await _call(lambda: self._claim(keys=list(keys), args=[token, lease_ms]))
        return [Claim(int(code)) for code in codes]

    async def complete(self, keys: Sequence[str], token: str, ttl_s: int) -> list[bool]:
        """Mark keys `done` for `ttl_s` seconds where our claim still holds them; True where it did.

        Raises:
            StoreUnavailable: Redis did not answer.
        """
        return await self._each(self._complete, keys, token, ttl_s)

    async def release(self, keys: Sequence[str], token: str) -> list[bool]:
        """Delete keys where our claim still holds them, so a retry can claim them; True where it did.

        Raises:
            StoreUnavailable: Redis did not answer.
        """
        return await self._each(self._release, keys, token)

    async def renew(self, keys: Sequence[str], token: str, lease_ms: int) -> list[bool]:
        """Extend our claims' leases to `lease_ms` from now; True where the claim was still ours.

        Raises:
            StoreUnavailable: Redis did not answer.
        """
        return await self._each(self._renew, keys, token, lease_ms)

    async def _each(self, script: Any, keys: Sequence[str], *args: object) -> list[bool]:
        if not keys:
            return []
        codes = await _call(lambda: script(keys=list(keys), args=list(args)))
        return [bool(int(code)) for code in codes]


# Errors that mean "Redis can't serve us now", as opposed to a bug in a script or a call.
_UNAVAILABLE = (
    redis.exceptions.ConnectionError,  # also BusyLoadingError: Redis is loading its dataset
    redis.exceptions.TimeoutError,
    redis.exceptions.ReadOnlyError,  # a replica after a failover
    redis.exceptions.TryAgainError,
    redis.exceptions.ClusterDownError,
    redis.exceptions.MasterDownError,
    redis.exceptions.OutOfMemoryError,
    OSError,
)


async def _call(call: Callable[[], Awaitable[T]]) -> T:
    try:
        return await call()
    except _UNAVAILABLE as exc:
        raise StoreUnavailable(f"Redis is unavailable: {type(exc).__name__}") from exc
