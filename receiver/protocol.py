"""uvicorn's httptools protocol, with a response's writes leaving the process in one send.

uvicorn writes a response's head when the app sends `http.response.start` and its body when the app sends
`http.response.body`, and uvloop sends each write at once: two system calls per response, which together
were the largest single cost of a receiver worker under load (docs/performance.md). Here every write made
within one turn of the event loop is held, and they leave together at the end of the turn (`writelines`,
one send): the head and the body of a response, and the answers to pipelined requests. Nothing waits
longer than the turn it was written in; closing sends what is held first.
"""

from __future__ import annotations

import asyncio
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol


class HttpProtocol(HttpToolsProtocol):
    """`HttpToolsProtocol` on a `CoalescingTransport` (uvicorn's `http=` setting takes the class)."""

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(CoalescingTransport(transport, self.loop))  # type: ignore[arg-type]


class CoalescingTransport:
    """A transport whose writes within one turn of the loop go out in one call of the real transport."""

    def __init__(self, transport: asyncio.Transport, loop: asyncio.AbstractEventLoop) -> None:
        self._transport = transport
        self._loop = loop
        self._held: list[bytes] = []

    def write(self, data: bytes) -> None:
        if not self._held:
            self._loop.call_soon(self._send)
        self._held.append(data)

    def close(self) -> None:
        self._send()
        self._transport.close()

    def abort(self) -> None:
        self._held.clear()
        self._transport.abort()

    def __getattr__(self, name: str) -> Any:  # the rest of asyncio.Transport, as it is
        return getattr(self._transport, name)

    def _send(self) -> None:
        held, self._held = self._held, []
        if held and not self._transport.is_closing():  # closed meanwhile: nobody is left to read it
            self._transport.writelines(held)
