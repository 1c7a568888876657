"""`make bench`: the receiver and consumer benchmarks, with their baselines (see docs/performance.md)."""
