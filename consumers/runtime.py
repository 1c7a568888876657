"""Process-wide tuning of the consumer process, applied once by `__main__` after start-up."""

from __future__ import annotations

import gc

# Collections of the youngest generation per allocations: every event allocates hundreds of objects (its
# payload tree), almost none in cycles (refcounting frees them), so the default of 700 ran a collection
# every few events. The collector stays on: handlers may make cycles.
_GC_THRESHOLDS = (50_000, 20, 100)


def tune_gc() -> None:
    """Move everything alive after start-up (modules, settings, clients) out of the collector's way, and
    collect the youngest generation less often."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(*_GC_THRESHOLDS)
