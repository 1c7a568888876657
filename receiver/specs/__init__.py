"""The built-in declarative providers: one TOML file per provider, each a `receiver.verify.spec.Spec`.

Adding a provider is a file here (its scheme, event fields, handshakes, a sample delivery, and where the
scheme is documented and how it is proven), a golden vector in tests/unit/test_specs.py and a payload
model in `schemas/`.
"""

from __future__ import annotations

import tomllib
from importlib import resources

from receiver.verify.spec import Spec


def load_specs() -> dict[str, Spec]:
    """Every built-in spec by provider name (a broken file stops the import: it is a bug, not a setting)."""
    specs: dict[str, Spec] = {}
    for entry in sorted(resources.files(__name__).iterdir(), key=lambda item: item.name):
        if entry.name.endswith(".toml"):
            spec = Spec.model_validate(tomllib.loads(entry.read_text(encoding="utf-8")))
            if f"{spec.provider}.toml" != entry.name:
                raise ValueError(f"receiver/specs/{entry.name} declares provider {spec.provider!r}")
            specs[spec.provider] = spec
    return specs
