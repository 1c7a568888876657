"""A JSON object body checked whole and read lazily: only the fields a scheme's `describe` reads become Python.

`orjson.loads` builds every value of a body, and a 10 KB GitHub delivery holds hundreds (about 13 µs with freeing
them), while `describe` reads two to five fields. simdjson checks the whole document as strictly (UTF-8, escapes,
numbers, nesting up to 1,024 levels) in about 3 µs and makes a field into Python only when it is read
(docs/performance.md). The body itself is published as it came; only the fields read go through here.

The verdict stays orjson's: where simdjson refuses a body (malformed, or an integer beyond 64 bits, which orjson
reads), orjson reads it or refuses it; a body that starts with a UTF-8 byte order mark, which simdjson skips, goes
to orjson, which refuses it (an envelope could not embed it). One difference remains: of a name given twice in one
object, `get` reads the first, where `orjson.loads` kept the last (RFC 8259 leaves it to the reader; the body is
verified, so it is the sender's own). Names looked up must hold no U+0000, where pysimdjson ends them: those of the
schemes are literals, and a source's paths are ASCII letters, digits and `_@$-` (their settings check it).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import orjson
import simdjson

from receiver.errors import BadRequest

_BOM = b"\xef\xbb\xbf"


class JsonView:
    """A JSON object's fields, made into Python values (a nested object a `dict`, an array a `list`) when read."""

    __slots__ = ("_names", "_object")

    def __init__(self, value: simdjson.Object | dict[str, Any]) -> None:
        self._object = value
        # The object's names, once a field is asked for: pysimdjson answers a name it lacks with an exception, a
        # C++ one made into a KeyError (~3 µs), and schemes ask for names a body may lack ("type", then
        # "event_type").
        self._names: frozenset[str] | None = None

    def get(self, key: str, default: Any = None) -> Any:
        """The field `key`, or `default` where the object has none."""
        if key not in self:
            return default
        return _python(self._object[key])

    def __contains__(self, key: object) -> bool:
        if self._names is None:
            self._names = frozenset(self._object)
        return key in self._names

    def dig(self, *path: str) -> Any:
        """`self[path[0]][path[1]]...`, or None where a step is missing; a number steps into an array."""
        if path and path[0] not in self:
            return None
        return _python(step(self._object, path))


def parse_object(body: bytes) -> JsonView:
    """The body as a JSON object; anything else is a `BadRequest`."""
    if not body.startswith(_BOM):
        try:
            # A parser per body: a parser's values point into its buffer, which its next document would overwrite.
            value = simdjson.Parser().parse(body)
        except (ValueError, RuntimeError):  # UnicodeDecodeError is a ValueError, BIGINT_ERROR a RuntimeError
            pass
        else:
            if not isinstance(value, simdjson.Object):
                raise BadRequest("body must be a JSON object")
            return JsonView(value)
    try:
        found = orjson.loads(body)
    except orjson.JSONDecodeError:
        raise BadRequest("body is not valid UTF-8 JSON") from None
    if not isinstance(found, dict):
        raise BadRequest("body must be a JSON object")
    return JsonView(found)


def step(value: Any, path: Sequence[str]) -> Any:
    """`value[path[0]][path[1]]...` of dicts and lists, or of simdjson's objects and arrays (left as they are), or
    None where a step is missing; a number steps into an array."""
    for key in path:
        if isinstance(value, simdjson.Object | dict):
            value = value.get(key)
        elif isinstance(value, simdjson.Array | list) and key.isdigit() and int(key) < len(value):
            value = value[int(key)]
        else:
            return None
    return value


def _python(value: Any) -> Any:
    if isinstance(value, simdjson.Object):
        return value.as_dict()
    if isinstance(value, simdjson.Array):
        return value.as_list()
    return value
