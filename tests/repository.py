"""Where the tests find the repository's files, and the local stack (`compose/local/stack.py`) as a module.

Test modules import these from here rather than from a conftest (pytest discourages importing conftest
modules) or from each other.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

ROOT = Path(__file__).resolve().parents[1]
COMPOSE = ROOT / "compose"
# Real provider bodies, copied into the repository with their origin and licence (tests/samples/README.md).
SAMPLES = ROOT / "tests" / "samples"


def _load_stack() -> ModuleType:
    # compose/local is a folder of scripts, not a package: load stack.py by its path.
    spec = importlib.util.spec_from_file_location("stack", COMPOSE / "local" / "stack.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["stack"] = module
    spec.loader.exec_module(module)
    return module


stack = _load_stack()
