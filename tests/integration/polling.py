"""Waiting for what a test expects to happen, with a ceiling that fails the test and says what it waited for."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

import pytest

WAIT_S = 20.0


async def eventually(check: Callable[[], bool], what: str, timeout_s: float = WAIT_S) -> None:
    deadline = time.monotonic() + timeout_s
    while not check():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout_s}s waiting for {what}")
        await asyncio.sleep(0.05)
