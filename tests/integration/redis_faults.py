"""A Redis server of a test's own, on a free port, and the refusals a production Redis can answer with.

Every fault is one a real server gives: `NOREPLICAS` (`min-replicas-to-write` unmet), `NOPERM` (an ACL user
lost its rights), `BUSY` (a long script holds the server). The shared Redis of the test session is never
touched: these reconfigure the test's own server only.
"""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import threading
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass

import redis
import redis.asyncio

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


class Proxy:
    """A TCP proxy in front of Redis, as a failover behind a stable address (a DNS name, a load balancer)
    looks to a client: connections made after `target` changes reach the new server, open ones stay where
    they were."""

    def __init__(self, target: int) -> None:
        self.target = target
        self.port = 0
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

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.target)
        pipes = [asyncio.create_task(_pipe(reader, up_writer)), asyncio.create_task(_pipe(up_reader, writer))]
        self._pipes.update(pipes)
        await asyncio.gather(*pipes, return_exceptions=True)
        self._pipes.difference_update(pipes)


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    finally:
        writer.close()
