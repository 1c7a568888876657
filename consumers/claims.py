"""One worker's claims on events, over the batched `IdempotencyStore`.

Records are handled one by one, but Redis is called once per event-loop tick and operation: every claim (or
completion, or release) asked for while the loop runs one round of ready tasks goes out as one script call,
so a fetched batch of 500 records is one claim round trip, not 500. While Redis is unavailable a call is
tried again with backoff, for as long as it takes: nothing is skipped and nothing is assumed done.

The claims this worker holds are known here (`held`): they are renewed while handlers run, never claimed
twice by the worker itself, and released on shutdown or revocation.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
from collections.abc import Sequence
from typing import Literal

from consumers.errors import StoreUnavailable
from consumers.idempotency import Claim, IdempotencyStore
from consumers.outage import until_available

log = logging.getLogger(__name__)

Op = Literal["claim", "complete", "release"]

# Backoff while Redis is unavailable, in seconds: doubles from the first to the cap.
OUTAGE_BACKOFF_S = (0.1, 2.0)


class Claims:
    """Claims of one worker, under one random token.

    Args:
        store: the idempotency store.
        lease_ms: how long a claim holds unless renewed (`CONSUMER_LEASE_MS`).
        done_ttl_s: how long a `done` mark is kept (`CONSUMER_DONE_TTL_S`).
    """

    def __init__(self, store: IdempotencyStore, *, lease_ms: int, done_ttl_s: int) -> None:
        self._store = store
        self._lease_ms = lease_ms
        self._done_ttl_s = done_ttl_s
        self.token = secrets.token_hex(16)
        self.held: set[str] = set()
        self._claiming: set[str] = set()
        self._pending: dict[Op, list[tuple[str, asyncio.Future[object]]]] = {"claim": [], "complete": [], "release": []}
        self._tasks: set[asyncio.Task[None]] = set()

    async def claim(self, key: str) -> Claim:
        """Claim an event; `HELD` too when this worker holds or is claiming it already (another record)."""
        if key in self.held or key in self._claiming:
            return Claim.HELD
        self._claiming.add(key)
        try:
            result = await self._queue("claim", key)
        finally:
            self._claiming.discard(key)
        assert isinstance(result, Claim)
        return result

    async def complete(self, key: str) -> bool:
        """Mark a claimed event `done`; False when the claim had passed to another member."""
        return bool(await self._queue("complete", key))

    async def release(self, key: str) -> bool:
        """Give a claimed event up, so its retry (or another member) can claim it."""
        return bool(await self._queue("release", key))

    async def release_now(self, keys: Sequence[str]) -> None:
        """Release claims once, without waiting out an outage (shutdown): claims left behind expire."""
        self.held.difference_update(keys)
        try:
            await self._store.release(keys, self.token)
        except StoreUnavailable as exc:
            log.warning("could not release %d claims (%s); they expire after the lease", len(keys), exc)

    async def renew_forever(self) -> None:
        """Extend the lease of every held claim, a third of a lease apart (a claim outlives one failed renewal)."""
        while True:
            await asyncio.sleep(self._lease_ms / 3000)
            keys = sorted(self.held)
            try:
                renewed = await self._store.renew(keys, self.token, self._lease_ms)
            except StoreUnavailable as exc:
                log.warning("could not renew %d claims: %s", len(keys), exc)
                continue
            lapsed = [key for key, ok in zip(keys, renewed, strict=True) if not ok and key in self.held]
            if lapsed:
                log.warning(
                    "%d claims lapsed before they were renewed (Redis away longer than the lease?)", len(lapsed)
                )

    async def close(self) -> None:
        """Stop pending calls; their callers are cancelled."""
        for task in list(self._tasks):
            task.cancel()
        if self._tasks:
            await asyncio.wait(self._tasks)

    # ------------------------------------------------------------------------------------------ batching

    def _queue(self, op: Op, key: str) -> asyncio.Future[object]:
        future: asyncio.Future[object] = asyncio.get_running_loop().create_future()
        batch = self._pending[op]
        batch.append((key, future))
        if len(batch) == 1:
            task = asyncio.create_task(self._flush(op))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        return future

    async def _flush(self, op: Op) -> None:
        # One more turn of the loop: every task that is ready now adds its key to this call.
        await asyncio.sleep(0)
        batch, self._pending[op] = self._pending[op], []
        keys = [key for key, _ in batch]
        try:
            results: Sequence[object] = await until_available(lambda: self._call(op, keys), backoff_s=OUTAGE_BACKOFF_S)
        except BaseException:
            for _, future in batch:
                future.cancel()
            raise
        orphans = []
        for (key, future), result in zip(batch, results, strict=True):
            if op == "claim" and result is Claim.CLAIMED:
                self.held.add(key)
                if future.cancelled():  # its record was dropped meanwhile (shutdown, revocation)
                    orphans.append(key)
            elif op != "claim":
                self.held.discard(key)
            if not future.done():
                future.set_result(result)
        if orphans:
            await self.release_now(orphans)

    async def _call(self, op: Op, keys: list[str]) -> Sequence[object]:
        if op == "claim":
            return await self._store.claim(keys, self.token, self._lease_ms)
        if op == "complete":
            return await self._store.complete(keys, self.token, self._done_ttl_s)
        return await self._store.release(keys, self.token)
