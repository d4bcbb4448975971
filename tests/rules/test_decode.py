"""Reading JSON bytes into the declared Structs: strict where the types match, a value of another
type null on its own, invalid JSON told apart from null and from other shapes, and the
documented outcome for every kind of bad byte. No Spark."""
import json

import msgspec
import pytest

from pipelines.rules.decode import Read, first_not_none, is_null, json_kind, read, repair, value
from schemas.bodies import CONTENT, DECODER_LIMITS, STRINGS, Message, RequestBody

REQUEST = RequestBody


def text(raw) -> str | None:
    return None if raw is None else bytes(raw).decode()


@pytest.mark.parametrize("body,logged,is_json,is_object", [
    (b'{"messages": []}', True, True, True),
    (b'{"messages": "another type"}', True, True, True),   # valid JSON of another shape: still read
    (b"null", True, True, False), (b"42", True, True, False), (b'"text"', True, True, False), (b"[1, 2]", True, True, False),
    (b'{"messages": [{"role": "us', True, False, False), (b"{broken", True, False, False), (b"", True, False, False),
    (b'{"a": 1} trailing', True, False, False), (b"{'single': 1}", True, False, False), (b"NaN", True, False, False),
    (b'{"a": "raw \x01 control"}', True, False, False), (b"01", True, False, False),
    (None, False, False, False),
], ids=repr)
def test_invalid_json_is_told_apart_from_null_and_from_other_shapes(body, logged, is_json, is_object):
    found = read(body, REQUEST)
    assert (found.logged, found.json, isinstance(found.value, RequestBody)) == (logged, is_json, is_object)


CASES = [   # body -> (messages' roles, query as logged)
    ("every field of its type", b'{"messages": [{"role": "user"}], "query": "q"}', (["user"], '"q"')),
    ("a list of another type is null; the rest is read", b'{"messages": "oops", "query": "still"}', (None, '"still"')),
    ("an element of another type is null; the others are read", b'{"messages": [5, {"role": "user"}]}',
     ([None, "user"], None)),
    ("a field of another type is null; its object is read", b'{"messages": [{"role": 7, "id": "m1"}]}', ([None], None)),
    ("duplicate keys: the last one wins", b'{"query": "first", "query": "last"}', (None, '"last"')),
    ("an open part keeps its text as logged", b'{"query": {"b": 1,  "a" : [ 2 ]}}', (None, '{"b": 1,  "a" : [ 2 ]}')),
    ("JSON null in an open part is kept as null", b'{"query": null}', (None, "null")),
]


@pytest.mark.parametrize("name,body,expected", CASES, ids=[c[0] for c in CASES])
def test_a_value_of_another_type_is_null_on_its_own(name, body, expected):
    found = read(body, REQUEST).value
    roles = None if found.messages is None else [m.role if m is not None else None for m in found.messages]
    assert (roles, text(found.query)) == expected


OPEN_PARTS = [   # (raw part, type, expected value)
    (b'"plain"', CONTENT, "plain"),
    (b'[{"type": "text", "text": "a"}, 7, "b"]', CONTENT, ["a", None, "b"]),
    (b'{"type": "text", "text": 3}', CONTENT, None),
    (b'["x", {"y": 1}, "z"]', STRINGS, ["x", None, "z"]),
    (b"true", STRINGS, None),
    (b"null", STRINGS, None),
    (b"1e999", float, None),   # a number beyond a double is null, never an error
    (b"1" * 5000, int, None),  # beyond Python's digits limit: null
]


@pytest.mark.parametrize("raw,type_,expected", OPEN_PARTS, ids=[p[0][:20].decode() for p in OPEN_PARTS])
def test_open_parts_are_read_by_their_type_when_a_rule_reads_them(raw, type_, expected):
    found = value(msgspec.Raw(raw), type_)
    if isinstance(found, list):
        found = [getattr(item, "text", item) for item in found]
    elif found is not None and not isinstance(found, (str, int, float)):
        found = found.text
    assert found == expected


BAD_BYTES = [   # (body, what a rule reads from it)
    ("a lone high surrogate escape", b'{"query": "a\\ud800b"}', "a\ufffdb"),
    ("a lone low surrogate escape", b'{"query": "a\\udc00b"}', "a\ufffdb"),
    ("a surrogate pair escape is a character", b'{"query": "\\ud83d\\ude00"}', "\U0001F600"),
    ("an escaped backslash before u is no escape", b'{"query": "\\\\ud800"}', "\\ud800"),
    ("bytes that are not UTF-8", b'{"query": "a\xff\xfeb"}', "a\ufffd\ufffdb"),
    ("bytes that are not UTF-8 elsewhere in the body", b'{"x": "\xff", "query": "q"}', "q"),
    ("a lone surrogate elsewhere in the body", b'{"x": "\\ud800", "query": "q"}', "q"),
]


@pytest.mark.parametrize("name,body,expected", BAD_BYTES, ids=[b[0] for b in BAD_BYTES])
def test_bad_bytes_are_read_as_the_replacement_character(name, body, expected):
    found = read(body, REQUEST)
    assert found.json and value(found.value.query, str) == expected


def test_raw_control_characters_make_a_body_not_json():
    assert read(b'{"query": "a\x01b"}', REQUEST) == Read(True, False)
    assert repair(b'{"query": "a\x01b"}') is None   # nothing to replace: simply not JSON


def _nested(levels: int) -> bytes:
    """A request body nested ``levels`` deep (the body's own object is the first level)."""
    return b'{"query": "q", "deep": ' + b"[" * (levels - 1) + b"]" * (levels - 1) + b"}"


def test_nesting_up_to_the_declared_depth_is_always_read():
    limit = DECODER_LIMITS["nesting_depth"]
    found = read(_nested(limit), REQUEST)
    assert found.json and value(found.value.query, str) == "q"


@pytest.mark.parametrize("levels", [2_000, 100_000])
def test_nesting_beyond_the_recursion_limit_is_not_json_never_a_crash(levels):
    assert read(_nested(levels), REQUEST) == Read(True, False)


def test_no_depth_between_the_two_crashes():
    outcomes = {read(_nested(levels), REQUEST).json for levels in range(400, 1_600, 7)}
    assert outcomes <= {True, False}


def test_strings_of_any_length_are_read():
    huge = "x" * 25_000_000   # beyond the 20,000,000 characters Spark's JSON reader stopped at
    assert value(read(json.dumps({"query": huge}).encode(), REQUEST).value.query, str) == huge


@pytest.mark.parametrize("raw,kind", [(b' {"a": 1}', "object"), (b"\n[1]", "array"), (b'"s"', "string"),
                                      (b"12", "other"), (b"null", "other")])
def test_json_kind_is_read_from_the_first_character(raw, kind):
    assert json_kind(raw) == kind


@pytest.mark.parametrize("raw,null", [(None, True), (b"null", True), (b'"null"', False), (b"0", False)])
def test_is_null(raw, null):
    assert is_null(None if raw is None else msgspec.Raw(raw)) is null


def test_first_not_none_keeps_empty_text():
    assert (first_not_none(None, "", "x"), first_not_none(None, None)) == ("", None)


def test_message_fields_are_declared_once():
    # the decoder builds only declared fields: an undeclared key is skipped, not kept
    found = read(b'{"messages": [{"role": "user", "name": "n", "tool_calls": [1]}]}', REQUEST).value
    assert found.messages == [Message(role="user")]
