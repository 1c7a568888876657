"""The worker's Redis connections: the packer sends the bytes redis-py's own sends, in one buffer; a connection
closed under a call is an outage under uvloop as under asyncio's loop."""

from __future__ import annotations

from typing import Any

import pytest
import redis.asyncio
from redis.asyncio.connection import Connection, UnixDomainSocketConnection

from consumers.connection import LinearPacking, pack_linearly
from consumers.errors import StoreUnavailable
from consumers.idempotency import IdempotencyStore


@pytest.mark.parametrize(
    "command",
    [
        ("EVALSHA", "f" * 40, 2, "webhooks:claim:{g:hmac:0a}:évt", b"\x00\xff digest", 3.5, -7),
        ("CONFIG GET", "maxmemory"),
        (b"CLIENT SETNAME", "w"),
        ("SET", "k", memoryview(b"value"), "PX", 10_000),
        ("PING",),
    ],
)
def test_the_packed_command_is_redis_pys_byte_for_byte(command: tuple[object, ...]) -> None:
    theirs = Connection()
    ours = type("LinearConnection", (LinearPacking, Connection), {})()
    packed = ours.pack_command(*command)
    assert len(packed) == 1
    assert packed[0] == b"".join(bytes(part) for part in theirs.pack_command(*command))  # type: ignore[arg-type]


def test_the_client_keeps_its_connection_class_with_the_packer() -> None:
    client = pack_linearly(redis.asyncio.Redis(unix_socket_path="nowhere.sock"))
    cls = client.connection_pool.connection_class
    assert issubclass(cls, LinearPacking)
    assert issubclass(cls, UnixDomainSocketConnection)
    assert pack_linearly(client).connection_pool.connection_class is cls


class _ClosingRedis(redis.asyncio.Redis):
    """A client whose every call meets a connection closed under it, as uvloop reports one."""

    def __init__(self, message: str) -> None:
        super().__init__()
        self.message = message

    async def execute_command(self, *args: Any, **options: Any) -> Any:
        raise RuntimeError(self.message)


async def test_a_connection_closed_under_a_call_is_an_outage_under_uvloop_too() -> None:
    closed = "unable to perform operation on <TCPTransport closed=True reading=False>; the handler is closed"
    with pytest.raises(StoreUnavailable):
        await IdempotencyStore(_ClosingRedis(closed)).claim(["webhooks:idem:{g:hmac:00}:e1"], "t", 1000)
    # Any other RuntimeError is a bug, not an outage: it is not waited out for ever.
    with pytest.raises(RuntimeError, match="something else"):
        await IdempotencyStore(_ClosingRedis("something else")).claim(["webhooks:idem:{g:hmac:00}:e1"], "t", 1000)
