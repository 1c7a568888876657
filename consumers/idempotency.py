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

# The public key layout of docs/contract.md: `webhooks:idem:<group>:<provider>:<event id>`; operators grep for it.
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


# KEYS: the keys; ARGV[1]: our token, ARGV[2]: the lease in ms, ARGV[3]: '1' to take over `done` keys too
# (a forced replay). Returns one Claim value per key. A key that already holds our token is ours: the reply to
# an earlier claim was lost (Redis restarted, a connection dropped) and the call is being tried again.
_CLAIM = """
local result = {}
for i, key in ipairs(KEYS) do
    if redis.call('SET', key, ARGV[1], 'NX', 'PX', ARGV[2]) then
        result[i] = 0
    else
        local value = redis.call('GET', key)
        if value == ARGV[1] then
            redis.call('PEXPIRE', key, ARGV[2])
            result[i] = 0
        elseif value == 'done' and ARGV[3] == '1' then
            redis.call('SET', key, ARGV[1], 'PX', ARGV[2])
            result[i] = 0
        elseif value == 'done' then
            result[i] = 1
        else
            result[i] = 2
        end
    end
end
return result
"""

# KEYS: the keys; ARGV[1]: our token, ARGV[2]: the done TTL in s. Returns 1 per key we marked done: ours, or
# free because our lease lapsed (Redis was away longer than it) and nobody claimed it since. A key another
# member claimed meanwhile is left alone: that member is running the event too, and marks it done itself.
_COMPLETE = """
local result = {}
for i, key in ipairs(KEYS) do
    local value = redis.call('GET', key)
    if value == ARGV[1] or value == false then
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
        self._client = client
        self._claim = client.register_script(_CLAIM)
        self._complete = client.register_script(_COMPLETE)
        self._release = client.register_script(_RELEASE)
        self._renew = client.register_script(_RENEW)

    async def claim(self, keys: Sequence[str], token: str, lease_ms: int, *, force: bool = False) -> list[Claim]:
        """Try to claim every key with `SET NX PX`; one result per key, in order.

        Args:
            force: take over keys that are `done` as well (a forced replay); live claims are never taken.

        Raises:
            StoreUnavailable: Redis did not answer, or refused the call.
        """
        if not keys:
            return []
        codes = await self._call(lambda: self._claim(keys=list(keys), args=[token, lease_ms, "1" if force else "0"]))
        return [Claim(int(code)) for code in codes]

    async def is_done(self, keys: Sequence[str]) -> list[bool]:
        """Whether each key is marked `done`, without claiming anything (one `MGET`).

        Raises:
            StoreUnavailable: Redis did not answer, or refused the call.
        """
        if not keys:
            return []
        values = await self._call(lambda: self._client.mget(list(keys)))
        return [value == DONE.encode() for value in values]

    async def complete(self, keys: Sequence[str], token: str, ttl_s: int) -> list[bool]:
        """Mark keys `done` for `ttl_s` seconds where our claim still holds them; True where it did.

        Raises:
            StoreUnavailable: Redis did not answer, or refused the call.
        """
        return await self._each(self._complete, keys, token, ttl_s)

    async def release(self, keys: Sequence[str], token: str) -> list[bool]:
        """Delete keys where our claim still holds them, so a retry can claim them; True where it did.

        Raises:
            StoreUnavailable: Redis did not answer, or refused the call.
        """
        return await self._each(self._release, keys, token)

    async def renew(self, keys: Sequence[str], token: str, lease_ms: int) -> list[bool]:
        """Extend our claims' leases to `lease_ms` from now; True where the claim was still ours.

        Raises:
            StoreUnavailable: Redis did not answer, or refused the call.
        """
        return await self._each(self._renew, keys, token, lease_ms)

    async def _each(self, script: Any, keys: Sequence[str], *args: object) -> list[bool]:
        if not keys:
            return []
        codes = await self._call(lambda: script(keys=list(keys), args=list(args)))
        return [bool(int(code)) for code in codes]

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
        except (redis.exceptions.RedisError, OSError) as exc:
            raise StoreUnavailable(f"Redis did not take the call: {_reason(exc)}") from exc


def _reason(exc: BaseException) -> str:
    # redis-py strips the code of the errors it has a class for (NoPermissionError) and keeps it in
    # `status_code`; for the others (NOREPLICAS, MISCONF, BUSY) it is the message's first word.
    name = type(exc).__name__
    if not isinstance(exc, redis.exceptions.ResponseError):
        return name
    code = getattr(exc, "status_code", None) or (str(exc).split(" ", 1)[0] if str(exc) else "")
    return f"{name} {code}" if code.isupper() else name
