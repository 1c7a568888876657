"""The benchmark's requests: real GitHub bodies from `tests/samples`, signed once each.

GitHub signs the body only; the delivery id travels in `X-GitHub-Delivery`, outside the signature. So one
signature per body serves every request, and the load generators give each request a distinct delivery
id (hence a distinct event id, as the contract asks) without signing anything at load time.

A corpus file holds one request per line: `event<TAB>signature<TAB>body`, bodies as compact JSON (no
tabs or newlines), which both wrk's Lua script and the open-loop generator read.
"""

from __future__ import annotations

import hashlib
import hmac
from pathlib import Path

import orjson

SAMPLES = Path(__file__).resolve().parents[1] / "tests" / "samples" / "github"
# The secret the bench's receiver and baselines are started with; a throwaway, for loopback only.
BENCH_SECRET = b"bench-secret"


def github_samples() -> list[tuple[str, bytes]]:
    """(event, compact body) for every GitHub sample, in a stable order."""
    if not SAMPLES.is_dir():
        raise SystemExit(f"bench: the GitHub samples are missing: {SAMPLES}")
    out = []
    for path in sorted(SAMPLES.glob("*/*.json")):
        out.append((path.parent.name, orjson.dumps(orjson.loads(path.read_bytes()))))
    return out


def sized_samples(size: int) -> list[tuple[str, bytes]]:
    """Bodies of exactly `size` bytes built around real samples: keys dropped or a `_pad` field added."""
    out = []
    for event, body in github_samples()[::9]:
        document = orjson.loads(body)
        while len(orjson.dumps(document)) > size - 32 and len(document) > 1:
            document.pop(next(reversed(document)))
        base = len(orjson.dumps({**document, "_pad": ""}))
        if base > size:
            continue
        document["_pad"] = "x" * (size - base)
        padded = orjson.dumps(document)
        assert len(padded) == size
        out.append((event, padded))
    return out


# The fields a small event keeps of each sample: what the GitHub model names, each reduced to its own fields.
_SMALL_FIELDS = {"sender": ("login", "id", "type"), "repository": ("id", "name", "full_name", "private")}


def small_samples() -> list[tuple[str, bytes]]:
    """Small GitHub bodies (~150 bytes): each sample's `action`, and its `sender` and `repository` cut down to the
    fields the payload model reads, so every body is still validated as a GitHub event."""
    out = []
    for event, body in github_samples():
        document = orjson.loads(body)
        small = {"action": document["action"]} if "action" in document else {}
        for name, keep in _SMALL_FIELDS.items():
            if isinstance(document.get(name), dict):
                small[name] = {key: document[name][key] for key in keep if key in document[name]}
        out.append((event, orjson.dumps(small)))
    return out


def signature(body: bytes, secret: bytes = BENCH_SECRET) -> str:
    return "sha256=" + hmac.new(secret, body, hashlib.sha256).hexdigest()


def write_corpus(path: Path, requests: list[tuple[str, bytes]]) -> Path:
    with path.open("wb") as out:
        for event, body in requests:
            out.write(f"{event}\t{signature(body)}\t".encode() + body + b"\n")
    return path


def mean_size(requests: list[tuple[str, bytes]]) -> float:
    return sum(len(body) for _, body in requests) / len(requests)
