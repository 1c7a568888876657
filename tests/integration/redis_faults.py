"""A Redis server of a test's own, on a free port, and the refusals a production Redis can answer with.

Every fault is one a real server gives: `NOREPLICAS` (`min-replicas-to-write` unmet), `NOPERM` (an ACL user
lost its rights), `BUSY` (a long script holds the server). The shared Redis of the test session is never
touched: these reconfigure the test's own server only. A network between client and server that fails
(a failover behind one address, connections that go silent, late replies) is a real TCP proxy (`Proxy`).
"""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass

import redis
import redis.asyncio

from consumers.idempotency import Claim, IdempotencyStore
from tests.integration.ports import free_port
from tests.repository import stack

# The worker's ACL user on the test server: all rights until a fault takes them away.
USER, PASSWORD = "worker", "worker-password"


@dataclass
class OwnRedis:
    """A started server: `url` as the worker's ACL user, `admin` as the default user."""

    port: int
    admin: redis.asyncio.Redis

    @property
    def url(self) -> str:
        return f"redis://{USER}:{PASSWORD}@127.0.0.1:{self.port}/0"

    def client(self) -> redis.asyncio.Redis:
        """A client for a worker, as `python -m consumers` builds it (calls fail fast and are tried again)."""
        return redis.asyncio.Redis.from_url(self.url, socket_timeout=2, socket_connect_timeout=1)

    @contextlib.asynccontextmanager
    async def refusing(self, fault: str) -> AsyncIterator[None]:
        """Redis answers with `fault`'s error while inside the block."""
        if fault == "noreplicas":
            await self.admin.config_set("min-replicas-to-write", 1)
            try:
                yield
            finally:
                await self.admin.config_set("min-replicas-to-write", 0)
        elif fault == "noperm":
            await self.admin.acl_setuser(USER, enabled=True, passwords=[f"+{PASSWORD}"], categories=["-@all"])
            try:
                yield
            finally:
                await self._grant()
        elif fault == "busy":
            with self._busy():
                yield
        else:
            raise ValueError(fault)

    async def _grant(self) -> None:
        await self.admin.acl_setuser(
            USER, enabled=True, passwords=[f"+{PASSWORD}"], keys=["*"], categories=["+@all"], reset=True
        )

    @contextlib.contextmanager
    def _busy(self) -> Iterator[None]:
        # A script that never ends: past busy-reply-threshold every other client is answered BUSY until it is
        # killed. It runs on a thread of its own, since its own call only returns once killed.
        looping = redis.Redis(port=self.port)
        thread = threading.Thread(target=_loop_forever, args=(looping,), daemon=True)
        thread.start()
        try:
            yield
        finally:
            killer = redis.Redis(port=self.port)
            while thread.is_alive():
                with contextlib.suppress(redis.exceptions.ResponseError):
                    killer.script_kill()
                thread.join(0.1)
            killer.close()
            looping.close()


def _loop_forever(client: redis.Redis) -> None:
    with contextlib.suppress(redis.exceptions.ResponseError):
        client.eval("while true do end", 0)


@contextlib.asynccontextmanager
async def own_redis(name: str) -> AsyncIterator[OwnRedis]:
    """A fresh redis-server on a free port, stopped and wiped afterwards."""
    port = free_port()
    server = stack.RedisServer(port=port, name=f"redis-{name}-{port}")
    shutil.rmtree(server.home, ignore_errors=True)
    await asyncio.to_thread(server.start)
    admin = redis.asyncio.Redis(port=port)
    try:
        await admin.config_set("busy-reply-threshold", 100)
        own = OwnRedis(port, admin)
        await own._grant()
        yield own
    finally:
        await admin.aclose()
        await asyncio.to_thread(server.stop)
        shutil.rmtree(server.home, ignore_errors=True)


async def another_members_claims(client: redis.asyncio.Redis, key: str, *, for_s: float, lease_ms: int) -> list[Claim]:
    """What another member of the group gets trying to claim `key` every 100 ms for `for_s` seconds, through
    `client` (no proxy): HELD every time while the holder keeps its claim."""
    store = IdempotencyStore(client)
    answers: list[Claim] = []
    deadline = time.monotonic() + for_s
    while time.monotonic() < deadline:
        answers += await store.claim([key], "another-member", lease_ms)
        await asyncio.sleep(0.1)
    return answers


@contextlib.asynccontextmanager
async def proxied(redis_client: redis.asyncio.Redis) -> AsyncIterator[tuple[Proxy, redis.asyncio.Redis]]:
    """A proxy in front of `redis_client`'s server and database, and a client through it that waits 30 s for a
    reply (its socket timeout, far longer than a test's lease)."""
    where = redis_client.connection_pool.connection_kwargs
    async with Proxy(where["port"]) as proxy:
        client = redis.asyncio.Redis(port=proxy.port, db=where["db"], socket_timeout=30, socket_connect_timeout=30)
        try:
            yield proxy, client
        finally:
            await client.aclose()


class Proxy:
    """A TCP proxy in front of Redis, as a failover behind a stable address (a DNS name, a load balancer)
    looks to a client: connections made after `target` changes reach the new server, open ones stay where
    they were.

    It also plays a network that fails silently: `stall()` black-holes the connections open then and those made
    until `resume()` (they carry no byte ever again, as behind a dropped NAT entry or a dead link: only the
    client giving up on them ends them), and `reply_delay_s` holds each reply back that long. `connections`
    counts the connections clients made.
    """

    def __init__(self, target: int) -> None:
        self.target = target
        self.port = 0
        self.reply_delay_s = 0.0
        self.connections = 0
        self._stalled = False
        self._links: set[_Link] = set()
        self._server: asyncio.Server | None = None
        self._pipes: set[asyncio.Task[None]] = set()

    async def __aenter__(self) -> Proxy:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(self, *_: object) -> None:
        assert self._server is not None
        self._server.close()
        for pipe in list(self._pipes):
            pipe.cancel()
        await asyncio.gather(*self._pipes, return_exceptions=True)

    def stall(self) -> None:
        """Carry nothing more on the open connections, nor on those made until `resume()`."""
        self._stalled = True
        for link in self._links:
            link.dead = True

    def resume(self) -> None:
        """Carry the connections made from now on (the stalled ones stay dead)."""
        self._stalled = False

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        link = _Link(dead=self._stalled)
        self._links.add(link)
        up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.target)
        pipes = [
            asyncio.create_task(_pipe(reader, up_writer, link)),
            asyncio.create_task(_pipe(up_reader, writer, link, lambda: self.reply_delay_s)),
        ]
        self._pipes.update(pipes)
        await asyncio.gather(*pipes, return_exceptions=True)
        self._pipes.difference_update(pipes)
        self._links.discard(link)


@dataclass(eq=False)
class _Link:
    # A black-holed connection: what either side sends is read and dropped.
    dead: bool


async def _pipe(
    reader: asyncio.StreamReader,
    writer: asyncio.StreamWriter,
    link: _Link,
    delay_s: Callable[[], float] = lambda: 0.0,
) -> None:
    try:
        while data := await reader.read(65536):
            if delay_s():
                await asyncio.sleep(delay_s())
            if link.dead:
                continue
            writer.write(data)
            await writer.drain()
    finally:
        writer.close()
