"""`CoalescingTransport`: the writes of one turn of the loop leave in one call, closing sends what is held."""

from __future__ import annotations

import asyncio
from typing import Any

from receiver.protocol import CoalescingTransport


class _Recording(asyncio.Transport):
    def __init__(self) -> None:
        super().__init__()
        self.calls: list[tuple[str, Any]] = []
        self.closing = False

    def writelines(self, data: Any) -> None:
        self.calls.append(("writelines", list(data)))

    def close(self) -> None:
        self.closing = True
        self.calls.append(("close", None))

    def is_closing(self) -> bool:
        return self.closing

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return ("127.0.0.1", 8000) if name == "sockname" else default


async def test_writes_of_one_turn_leave_together_and_the_next_turns_apart() -> None:
    real = _Recording()
    transport = CoalescingTransport(real, asyncio.get_running_loop())
    transport.write(b"HTTP/1.1 202 Accepted\r\n\r\n")
    transport.write(b"{}")
    assert real.calls == []
    await asyncio.sleep(0)
    transport.write(b"next")
    await asyncio.sleep(0)
    assert real.calls == [("writelines", [b"HTTP/1.1 202 Accepted\r\n\r\n", b"{}"]), ("writelines", [b"next"])]
    assert transport.get_extra_info("sockname") == ("127.0.0.1", 8000)


async def test_close_sends_what_is_held_first_and_nothing_goes_to_a_closed_transport() -> None:
    real = _Recording()
    transport = CoalescingTransport(real, asyncio.get_running_loop())
    transport.write(b"last answer")
    transport.close()
    transport.write(b"too late")
    await asyncio.sleep(0)
    assert real.calls == [("writelines", [b"last answer"]), ("close", None)]
