"""One worker's claims on events, over the batched claim store (`consumers.idempotency.ClaimStore`).

Records are handled one by one, but Redis is called once per event-loop tick and operation: every claim (or
completion, or release) asked for while the loop runs one round of ready tasks goes out as one script call,
so a fetched batch of 500 records is one claim round trip, not 500. While Redis is unavailable a call is
tried again with backoff, for as long as it takes: nothing is skipped and nothing is assumed done.

The claims this worker holds are known here (`held`): they are renewed while handlers run (and while they
wait for a concurrency slot), never claimed twice by the worker itself, and released on shutdown or
revocation. A claim that a renewal finds lost (another member took the event over after this one was cut off
longer than the lease) fences its holder: the task that claimed it is cancelled, and `lost` tells it why.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import time
from collections.abc import Sequence
from typing import Any, Literal, cast

from consumers.errors import StoreUnavailable, until_available
from consumers.idempotency import RENEWALS_PER_LEASE, Claim, ClaimStore

log = logging.getLogger(__name__)

Op = Literal["claim", "complete", "release", "handled", "mark"]

# Backoff while Redis is unavailable, in seconds: doubles from the first to the cap.
OUTAGE_BACKOFF_S = (0.1, 2.0)


async def next_renewal(began: float, lease_ms: int) -> float:
    """Wait for the next renewal of claims, due a third of a lease after the last one began (`began`, monotonic
    seconds), or at once if that has passed (the last one was abandoned unanswered); when it begins.

    Counted from start to start, not from the end of the last one: a renewal abandoned after its third of the
    lease (`IdempotencyStore.renew`) is followed by the next at once, still inside the lease.
    """
    due = max(began + lease_ms / RENEWALS_PER_LEASE / 1000, time.monotonic())
    await asyncio.sleep(due - time.monotonic())
    return due


class ClaimBatcher:
    """The claims of one worker, under one random token, batched per loop tick.

    Args:
        store: the idempotency store.
        lease_ms: how long a claim holds unless renewed (`CONSUMER_LEASE_MS`).
    """

    def __init__(self, store: ClaimStore, *, lease_ms: int) -> None:
        self._store = store
        self._lease_ms = lease_ms
        self.token = secrets.token_hex(16)
        self.held: set[str] = set()
        # Per held claim: the task that claimed it (fenced if the claim is lost) and when, in monotonic seconds.
        self._owners: dict[str, tuple[asyncio.Task[object] | None, float]] = {}
        # Held claims being completed or released: a renewal racing that call is no sign of a lost claim.
        self._finishing: set[str] = set()
        self._lost: set[str] = set()
        self._claiming: set[str] = set()
        # Per operation, the calls waiting for the next flush: each caller's keys and the future of its answers.
        self._pending: dict[Op, list[tuple[Sequence[Any], asyncio.Future[list[object]]]]] = {
            "claim": [],
            "complete": [],
            "release": [],
            "handled": [],
            "mark": [],
        }
        self._tasks: set[asyncio.Task[None]] = set()

    async def claim(self, key: str) -> Claim:
        """Claim an event; `HELD` too when this worker holds or is claiming it already (another record)."""
        (result,) = await self._claim([key])
        if result is Claim.CLAIMED:
            self._owners[key] = (asyncio.current_task(), time.monotonic())
        return result

    async def claim_all(self, keys: Sequence[str]) -> list[Claim]:
        """Claim the events of a batch in one call, as `claim` does one.

        A claim got here has no holder to fence until `own` names one: a claim lost before that is only forgotten.
        """
        results = await self._claim(keys)
        now = time.monotonic()
        for key, result in zip(keys, results, strict=True):
            if result is Claim.CLAIMED:
                self._owners[key] = (None, now)
        return results

    def own(self, key: str, holder: asyncio.Task[object] | None) -> bool:
        """Make `holder` (the current task) the holder of a claim got by `claim_all` (fenced if the claim is lost);
        False when it was lost already."""
        if key not in self.held:
            return False
        owner = self._owners.get(key)
        self._owners[key] = (holder, owner[1] if owner is not None else time.monotonic())
        return True

    async def _claim(self, keys: Sequence[str]) -> list[Claim]:
        # Keys held or being claimed by this worker already (or twice in `keys`) are HELD without asking Redis.
        ask = list(dict.fromkeys(key for key in keys if key not in self.held and key not in self._claiming))
        self._claiming.update(ask)
        future = self._queue("claim", ask)
        try:
            results = await future
        except asyncio.CancelledError:
            # Cancelled in the same tick as the reply came: the claims are ours, and nobody else will release them.
            if future.done() and not future.cancelled() and future.exception() is None:
                got = [key for key, result in zip(ask, future.result(), strict=True) if result is Claim.CLAIMED]
                if got:
                    self._release_later(got)
            raise
        finally:
            self._claiming.difference_update(ask)
        answered = dict(zip(ask, cast(list[Claim], results), strict=True))
        return [answered.pop(key, Claim.HELD) for key in keys]

    async def complete(self, key: str) -> bool:
        """Mark a claimed event `done`; False when the claim had passed to another member."""
        (done,) = await self.complete_soon([key])
        return bool(done)

    def complete_soon(self, keys: Sequence[str]) -> asyncio.Future[list[object]]:
        """Mark claimed events `done` with the next call, without waiting for it: the future of a `done` per key,
        false where the claim had passed to another member."""
        self._finishing.update(keys)
        return self._queue("complete", keys)

    async def release(self, key: str) -> bool:
        """Give a claimed event up, so its retry (or another member) can claim it."""
        self._finishing.add(key)
        (released,) = await self._queue("release", [key])
        return bool(released)

    async def handled(self, key: str) -> set[str]:
        """The names of the handlers that succeeded for a claimed, unfinished event."""
        (names,) = await self._queue("handled", [key])
        assert isinstance(names, set)
        return names

    async def mark(self, key: str, handler: str) -> None:
        """Mark a handler succeeded for a claimed event, before the event moves on."""
        await self._queue("mark", [(key, handler)])

    def lost(self, key: str) -> bool:
        """Whether the claim on `key` was found lost (and its holder cancelled for it); asked once."""
        if key in self._lost:
            self._lost.discard(key)
            return True
        return False

    def overdue(self, age_s: float) -> int:
        """Claims held for longer than `age_s` seconds (a leaked claim, or a queue longer than the slots)."""
        since = time.monotonic() - age_s
        return sum(1 for _, claimed_at in self._owners.values() if claimed_at < since)

    async def release_now(self, keys: Sequence[str]) -> None:
        """Release claims once, without waiting out an outage (shutdown): claims left behind expire."""
        self._forget(keys)
        try:
            await self._store.release(keys, self.token)
        except StoreUnavailable as exc:
            log.warning("could not release %d claims (%s); they expire after the lease", len(keys), exc)

    async def renew_forever(self) -> None:
        """Extend the lease of every held claim, a third of a lease apart (a claim outlives one failed renewal, and
        one that Redis left unanswered for a third of a lease: it is abandoned, the next one goes out at once).

        Runs until cancelled, whatever Redis answers; a claim found lost fences the task that holds it.
        """
        began = time.monotonic()
        while True:
            began = await next_renewal(began, self._lease_ms)
            try:
                await self.renew()
            except StoreUnavailable as exc:
                log.warning("could not renew claims: %s", exc)
            except Exception:
                log.exception("renewing claims failed; trying again in a third of a lease")

    async def renew(self) -> None:
        """Extend the lease of every held claim once, and fence the holders of claims found lost."""
        keys = sorted(self.held)
        renewed = await self._store.renew(keys, self.token, self._lease_ms)
        lost = [
            key
            for key, ok in zip(keys, renewed, strict=True)
            if not ok and key in self.held and key not in self._finishing
        ]
        if lost:
            log.warning(
                "%d claims were lost before they were renewed (cut off longer than the lease?): "
                "their handlers are stopped, the events left to their new holders",
                len(lost),
            )
        for key in lost:
            owner, _ = self._owners.get(key, (None, 0.0))
            self._forget([key])
            if owner is not None and not owner.done():
                self._lost.add(key)
                owner.cancel()

    async def close(self) -> None:
        """Stop pending calls; their callers are cancelled."""
        for task in list(self._tasks):
            task.cancel()
        if self._tasks:
            await asyncio.wait(self._tasks)

    # ------------------------------------------------------------------------------------------ batching

    def _queue(self, op: Op, keys: Sequence[Any]) -> asyncio.Future[list[object]]:
        # One future per caller, whatever the number of its keys: a batch's claim is one future, not one per record.
        future: asyncio.Future[list[object]] = asyncio.get_running_loop().create_future()
        if not keys:
            future.set_result([])
            return future
        batch = self._pending[op]
        batch.append((keys, future))
        if len(batch) == 1:
            task = asyncio.create_task(self._flush(op))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        return future

    async def _flush(self, op: Op) -> None:
        # One more turn of the loop: every task that is ready now adds its keys to this call.
        await asyncio.sleep(0)
        batch, self._pending[op] = self._pending[op], []
        keys = [key for keys, _ in batch for key in keys]
        try:
            results: Sequence[object] = await until_available(lambda: self._call(op, keys), backoff_s=OUTAGE_BACKOFF_S)
        except asyncio.CancelledError:  # close(): the worker is stopping
            self._give_up(op, batch)
            raise
        except Exception as exc:
            # No Redis answer (those are waited out) but a bug: the callers get it, and deal with their records.
            log.exception("a %s call of %d claims failed", op, len(keys))
            self._give_up(op, batch, exc)
            return
        orphans = []
        start = 0
        for caller_keys, future in batch:
            answers = list(results[start : start + len(caller_keys)])
            start += len(caller_keys)
            if op == "claim":
                got = [key for key, result in zip(caller_keys, answers, strict=True) if result is Claim.CLAIMED]
                self.held.update(got)
                if future.cancelled():  # its records were dropped meanwhile (shutdown, revocation)
                    orphans += got
            elif op in ("complete", "release"):
                self._forget(caller_keys)
            if not future.done():
                future.set_result(answers)
        if orphans:
            await self.release_now(orphans)

    def _give_up(
        self, op: Op, batch: list[tuple[Sequence[Any], asyncio.Future[list[object]]]], exc: Exception | None = None
    ) -> None:
        # A completion or release that never happened must not leave its claim renewed for ever.
        if op in ("complete", "release"):
            self._forget([key for keys, _ in batch for key in keys])
        for _, future in batch:
            if future.done():
                continue
            if exc is None:
                future.cancel()
            else:
                future.set_exception(exc)

    def _forget(self, keys: Sequence[str]) -> None:
        for key in keys:
            self.held.discard(key)
            self._owners.pop(key, None)
            self._finishing.discard(key)

    def _release_later(self, keys: Sequence[str]) -> None:
        task = asyncio.create_task(self.release_now(keys))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _call(self, op: Op, keys: list[Any]) -> Sequence[object]:
        if op == "claim":
            return await self._store.claim(keys, self.token, self._lease_ms)
        if op == "complete":
            return await self._store.complete(keys, self.token)
        if op == "handled":
            return await self._store.handled(keys)
        if op == "mark":
            return await self._store.mark(keys)
        return await self._store.release(keys, self.token)
