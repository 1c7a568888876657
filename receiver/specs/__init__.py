"""The built-in declarative providers: one TOML file per provider, each a `receiver.verify.spec.Spec`.

Adding a provider is a file here (its scheme, event fields, handshakes, a sample delivery, and where the
scheme is documented and how it is proven), a golden vector in tests/unit/receiver/verify/test_specs.py and a payload
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


def table_row(spec: Spec) -> str:
    """The spec's row of the declarative providers table in docs/providers.md (kept in step by a test)."""
    sig = spec.signature
    if sig.kind == "token":
        signature = "none: the secret itself, compared in constant time"
        headers = f"`{sig.header}: {sig.prefix}<secret>`"
    elif sig.kind == "basic":
        signature = "none: HTTP Basic credentials (the secret is `user:password`), compared in constant time"
        headers = f"`{sig.header}: {sig.prefix}<base64 of the secret>`"
    else:
        key = {
            "raw": "",
            "base64": " keyed with the base64-decoded secret",
            "hex": " keyed with the hex-decoded secret",
        }
        signature = f"`{sig.signed}`; HMAC-{sig.algorithm.upper()}{key[sig.key]}, {sig.encoding}"
        if sig.format == "items":
            stamp = f"{sig.timestamp_key}=…{sig.separator}" if sig.timestamp_key else ""
            headers = f"`{sig.header}: {stamp}{sig.signature_key}=…`"
        else:
            headers = f"`{sig.header}: {sig.prefix}…`"
        headers += "".join(f", `{name}`" for name in sig.also)
        if sig.timestamp_header:
            headers += f", `{sig.timestamp_header}` ({sig.timestamp_unit})"
    window = f"yes ({sig.timestamp_unit})" if sig.timed else "none"
    if sig.window_s is not None:
        window = f"{sig.window_s} s ({sig.timestamp_unit})"
    event_id = ", ".join(f"`{source}`" for source in spec.event.id) or "SHA-256 of source and body"
    if spec.event.id_required:
        event_id += " (required)"
    kind = ", ".join(f"`{source}`" for source in spec.event.type) or "—"
    handshakes = ", ".join(f"`{h.kind}` ({h.method})" for h in spec.handshakes) or "—"
    if spec.ack is not None:
        handshakes += f"; accepted: {spec.ack.status} `{spec.ack.body}`"
    cells = [f"`{spec.provider}`", signature, headers, event_id, kind, window, handshakes, spec.proof]
    return "| " + " | ".join(cell.replace("|", "\\|") for cell in cells) + " |"
