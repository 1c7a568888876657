"""`make bench`: the receiver and consumer benchmarks, with their baselines (see DESIGN.md, "Performance")."""
