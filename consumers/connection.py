"""The Redis connections of a worker's client: redis-py's own, with a packer that copies each argument once.

redis-py's asyncio packer appends every argument to one growing buffer, copied again per argument until it
reaches 6 KB: for a batch's claim call (four arguments per event, 2,000 for a batch of 500) that was ~5% of a
worker's CPU. `pack_linearly` gives the client's pool the same connection class (TCP, TLS, Unix socket, one
a sentinel names) with a packer that joins the command once.
"""

from __future__ import annotations

from typing import Any

import redis.asyncio
from redis.typing import EncodableT

_CRLF = b"\r\n"


class LinearPacking:
    """A mixin for a redis-py connection class: `pack_command` in one join."""

    encoder: Any

    def pack_command(self, *args: EncodableT) -> list[bytes]:
        """The command in the Redis protocol, as one buffer."""
        first = args[0]
        # A command name of several words ("CONFIG GET") is sent as several arguments, as redis-py does.
        if isinstance(first, str):
            args = (*first.encode().split(), *args[1:])
        elif isinstance(first, bytes) and b" " in first:
            args = (*first.split(), *args[1:])
        parts = [b"*%d\r\n" % len(args)]
        encode = self.encoder.encode
        for arg in args:
            # Most of a batch's arguments are bytes already (`consumers.idempotency`): no call to encode them.
            if arg.__class__ is not bytes:
                arg = encode(arg)
            parts += (b"$%d\r\n" % len(arg), arg, _CRLF)
        return [b"".join(parts)]


def pack_linearly(client: redis.asyncio.Redis) -> redis.asyncio.Redis:
    """Make the connections `client` opens from now on pack commands with `LinearPacking`; the client."""
    pool = client.connection_pool
    base = pool.connection_class
    if not issubclass(base, LinearPacking):
        pool.connection_class = type(f"Linear{base.__name__}", (LinearPacking, base), {})
    return client
