"""prometheus_client's multiprocess mode with each process's file written in batches, not on every change.

In multiprocess mode (PROMETHEUS_MULTIPROC_DIR) every change of a value takes a lock, asks the kernel for the
process id and writes the value into the process's memory-mapped file: several times per request, about 6% of a
receiver worker (docs/performance.md). Here a change stays in memory and `BatchedValues.flush` writes the values
changed since the last flush, in the same files and format, so `MultiProcessCollector` adds them up as before:

    values = BatchedValues.install()      # before the first metric is created
    ...                                   # counters, gauges, histograms: changed in memory
    values.flush()                        # at least every FLUSH_S (`every`), before a scrape, at exit

A scrape therefore sees another process's counts at most FLUSH_S late, and a process killed outright (SIGKILL,
the OOM killer) loses what it counted in its last FLUSH_S.
"""

from __future__ import annotations

import asyncio
import os
import threading
from collections.abc import Callable
from typing import Any

from prometheus_client import values

# How often changed values are written to the files, seconds: the most a scrape lags behind another process.
FLUSH_S = 0.1


class BatchedValues:
    """The values of every metric this process creates once installed, written to its files by `flush`.

    Args:
        process: the id that names this process's files (prometheus_client's default, the process id).
    """

    def __init__(self, process: Callable[[], int] = os.getpid) -> None:
        self._changed: list[Any] = []
        self._lock = threading.Lock()  # a few metrics change on other threads (the source registry's reader)
        self.value_class = _batched_value_class(process, self._changed, self._lock)

    @classmethod
    def install(cls) -> BatchedValues:
        """Make the metrics this process creates from now on batched ones (prometheus_client reads its value
        class when a metric is created, so this comes before any metric of the process)."""
        batched = cls()
        values.ValueClass = batched.value_class
        return batched

    def flush(self) -> None:
        """Write every value changed since the last flush to the process's files."""
        with self._lock:
            changed = self._changed[:]
            self._changed.clear()
        for value in changed:
            value.write()

    async def every(self, interval_s: float = FLUSH_S) -> None:
        """Flush every `interval_s` seconds until cancelled (the last flush, at exit, is the caller's)."""
        while True:
            await asyncio.sleep(interval_s)
            self.flush()


def _batched_value_class(process: Callable[[], int], changed: list[Any], lock: threading.Lock) -> type:
    base: type = values.MultiProcessValue(process)  # type: ignore[no-untyped-call]

    class BatchedValue(base):  # type: ignore[misc]
        """prometheus_client's value of a multiprocess metric, kept in memory until `write`."""

        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            # What the file holds already (a value the process created before keeps counting from there).
            self._held: float = super().get()
            self._stamp: float | None = None
            self._changed = False

        def inc(self, amount: float) -> None:
            with lock:
                self._held += amount
                self._stamp = None
                if not self._changed:
                    self._changed = True
                    changed.append(self)

        def set(self, value: float, timestamp: float | None = None) -> None:
            with lock:
                self._held = value
                self._stamp = timestamp
                if not self._changed:
                    self._changed = True
                    changed.append(self)

        def get(self) -> float:
            return self._held

        def write(self) -> None:
            with lock:
                self._changed = False
                held, stamp = self._held, self._stamp
            super().set(held, stamp)

    return BatchedValue
