"""The suffixes that make a test's topics, groups and sources its own on the shared broker.

Every suffix handed out is remembered, so that the run can delete the topics named after them when it ends
(`tests/integration/conftest.py`), and only those: another run on the same broker has suffixes of its own.
"""

from __future__ import annotations

import uuid

_handed_out: set[str] = set()


def new_suffix() -> str:
    """A short random suffix (10 hex digits), remembered for the run."""
    suffix = uuid.uuid4().hex[:10]
    _handed_out.add(suffix)
    return suffix


def named_after_ours(names: list[str]) -> list[str]:
    """Those of `names` that carry a suffix this run handed out."""
    return [name for name in names if any(suffix in name for suffix in _handed_out)]
