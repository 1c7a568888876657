"""The worker's Redis packer sends the bytes redis-py's own packer sends, in one buffer."""

from __future__ import annotations

import pytest
import redis.asyncio
from redis.asyncio.connection import Connection, UnixDomainSocketConnection

from consumers.connection import LinearPacking, pack_linearly


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
