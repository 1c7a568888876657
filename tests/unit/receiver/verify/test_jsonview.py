"""`JsonView` against `orjson.loads`, which read every JSON body before it: the same verdict for any bytes, and the
same value for every field and path read, except the one documented difference (a name given twice)."""

from __future__ import annotations

import json
from typing import Any

import orjson
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from bench.corpus import github_samples
from receiver.errors import BadRequest
from receiver.verify.events import dig
from receiver.verify.jsonview import parse_object

SCALARS = (
    st.none()
    | st.booleans()
    # Past 64 bits too: simdjson refuses those, orjson reads them.
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=12)
)
VALUES = st.recursive(
    SCALARS,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner, max_size=4),
    max_leaves=24,
)
OBJECTS = st.dictionaries(st.text(max_size=6), VALUES, max_size=6)
# What turns valid JSON into nearly valid JSON: broken escapes and UTF-8, control characters, numbers out of range,
# stray structure, a byte order mark.
SNIPPETS = [
    *(b"\\", b'"', b"\\u", b"\\ud800", b"\\udc00", b"\xff", b"\xc3", b"\xe2\x82", b"\xed\xa0\x80", b"\xc0\x80"),
    *(b"\xf4\x90\x80\x80", b"\x00", b"\x1f", b"\x7f", b"1e999", b"-", b"01", b".5", b"1.", b"NaN", b"nul", b","),
    *(b"]", b"}", b"[", b"{", b":", b"\x0c", b"\xef\xbb\xbf", b"18446744073709551616", b"-9223372036854775809"),
]


def _encoded(value: Any, ascii_only: bool) -> bytes:
    # The standard library's encoder: orjson refuses to write integers past 64 bits.
    return json.dumps(value, ensure_ascii=ascii_only).encode()


def _orjson_object(body: bytes) -> dict[str, Any] | None:
    try:
        value = orjson.loads(body)
    except orjson.JSONDecodeError:
        return None
    return value if isinstance(value, dict) else None


def _looked_up(key: str) -> bool:
    # The names schemes and sources look up hold no U+0000 (source paths are ASCII letters, digits and `_@$-`), and
    # pysimdjson would end one there; a document's own names may hold anything.
    return "\x00" not in key


def _paths(value: Any, prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    # Every path into `value` as `dig` takes it, and one step past each leaf.
    paths = [(*prefix, "missing"), (*prefix, "0")]
    if isinstance(value, dict):
        for key, inner in value.items():
            if _looked_up(key):
                paths += _paths(inner, (*prefix, key))
    elif isinstance(value, list):
        for index, inner in enumerate(value):
            paths += _paths(inner, (*prefix, str(index)))
    return paths


@settings(max_examples=400, deadline=None)
@given(OBJECTS, st.booleans())
def test_every_field_and_path_reads_as_orjson_reads_it(value: dict[str, Any], ascii_only: bool) -> None:
    body = _encoded(value, ascii_only)
    expected = orjson.loads(body)
    view = parse_object(body)
    for key in [*filter(_looked_up, expected), "absent", ""]:
        assert view.get(key) == expected.get(key)
        assert (key in view) == (key in expected)
    for path in _paths(expected):
        assert dig(view, *path) == dig(expected, *path), path


@settings(max_examples=1500, deadline=None)
@given(VALUES, st.booleans(), st.lists(st.tuples(st.floats(0, 1), st.sampled_from(SNIPPETS), st.integers(0, 3))))
@example(["x"], True, [(0.0, b"\xef\xbb\xbf", 0)])  # a byte order mark before an array
@example({"a": 1}, True, [(0.0, b"\xef\xbb\xbf", 0)])  # and before an object
@example({"n": 2**64}, True, [])  # an integer past 64 bits
def test_any_bytes_get_orjsons_verdict(value: Any, ascii_only: bool, edits: list[tuple[float, bytes, int]]) -> None:
    # Valid JSON with snippets put in at places and bytes cut out after them.
    body = _encoded(value, ascii_only)
    for where, snippet, cut in edits:
        at = int(where * len(body))
        body = body[:at] + snippet + body[at + cut :]
    expected = _orjson_object(body)
    if expected is None:
        with pytest.raises(BadRequest):
            parse_object(body)
    else:
        view = parse_object(body)
        assert {key: view.get(key) for key in expected if _looked_up(key)} == {
            key: value for key, value in expected.items() if _looked_up(key)
        }


def test_the_github_corpus_reads_as_orjson_reads_it() -> None:
    for _, body in github_samples():
        expected = orjson.loads(body)
        view = parse_object(body)
        assert {key: view.get(key) for key in expected} == expected
        assert dig(view, "repository", "full_name") == dig(expected, "repository", "full_name")


def test_nested_values_come_out_as_plain_python() -> None:
    view = parse_object(b'{"a": {"b": [1, {"c": "d"}]}, "e": [true, null, 1.5]}')
    assert type(view.get("a")) is dict
    assert view.get("a") == {"b": [1, {"c": "d"}]}
    assert type(view.get("e")) is list
    assert view.get("e") == [True, None, 1.5]
    assert type(view.dig("a", "b")) is list
    assert view.dig("a", "b", "1") == {"c": "d"}
    assert view.get("absent", "default") == "default"


def test_a_byte_order_mark_is_refused_as_orjson_refuses_it() -> None:
    # simdjson skips it; an envelope that embeds the body could not.
    with pytest.raises(BadRequest, match="not valid UTF-8 JSON"):
        parse_object(b'\xef\xbb\xbf{"a": 1}')


def test_integers_past_64_bits_are_read_as_orjson_reads_them() -> None:
    body = b'{"id": 18446744073709551616, "n": -9223372036854775809}'
    view = parse_object(body)
    assert view.get("id") == orjson.loads(body)["id"] == 2**64
    assert view.get("n") == orjson.loads(body)["n"]


@pytest.mark.parametrize("body", [b"[]", b'"text"', b"1", b"null"])
def test_a_body_that_is_not_an_object_is_a_bad_request(body: bytes) -> None:
    with pytest.raises(BadRequest, match="must be a JSON object"):
        parse_object(body)


def test_of_a_name_given_twice_the_first_is_read() -> None:
    # The one difference from orjson.loads, which kept the last (module docstring).
    view = parse_object(b'{"id": "first", "id": "second"}')
    assert view.get("id") == "first"
    assert dig(view, "id") == "first"


@pytest.mark.parametrize(("depth", "refused"), [(1024, False), (1025, True)])
def test_nesting_is_refused_where_orjson_refuses_it(depth: int, refused: bool) -> None:
    # An object around depth - 1 arrays: orjson reads 1,024 levels and refuses 1,025; simdjson must not go deeper.
    body = b'{"a":' + b"[" * (depth - 1) + b"]" * (depth - 1) + b"}"
    assert (_orjson_object(body) is None) == refused
    if refused:
        with pytest.raises(BadRequest):
            parse_object(body)
    else:
        assert len(parse_object(body).get("a")) == 1
