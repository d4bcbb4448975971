"""Hostile payload rows for the property-based tests, and what must hold whatever they hold.

Bodies are drawn from every request and response shape with random text, then mutated: random
JSON, truncated JSON, wrong types at any path, nulls, unicode and control characters, escapes of
lone surrogates, deep nesting, huge strings, duplicate keys, and JSON that is not an object.
The rules' tests run thousands of them without Spark (tests/rules/test_hostile_rules.py); the
passes' tests run fewer through Spark (tests/test_hostile_input.py).
"""
from __future__ import annotations

import copy
import json
import re

from hypothesis import strategies as st

from pipelines.samples import sample_payloads as sp

TEXT = st.text(alphabet=st.characters(codec="utf-8", exclude_categories=["Cs"]), max_size=40)
JSON_SCALARS = st.one_of(st.none(), st.booleans(), st.integers(-10**6, 10**6),
                         st.floats(allow_nan=False, allow_infinity=False), TEXT)
ANY_JSON = st.recursive(JSON_SCALARS, lambda inner: st.one_of(st.lists(inner, max_size=4),
                                                               st.dictionaries(TEXT, inner, max_size=4)), max_leaves=12)


def templates(text: str):
    return [
        (sp.chat_request(text, with_tool_turn=True), sp.chat_completion(text)),
        (sp.responses_request(text), sp.responses_agent_response(text, sp.trace_mlflow3(text, text))),
        (sp.rag_request(text), sp.chat_agent_response(text, sp.trace_mlflow2(text, text))),
        ({"prompt": [text, text]}, sp.chat_stream(text, sp.trace_v2(text, text))),
        ({"dataframe_records": [sp.chat_request(text)]}, sp.chat_agent_stream(text)),
        (sp.responses_request(text, as_items=False), sp.responses_stream(text, completed=False)),
        (sp.feedback_request("r-" + text, text, text, encoded=True), sp.FEEDBACK_RESPONSE),
        (sp.feedback_request("r-" + text, text, 3.5), sp.FEEDBACK_RESPONSE),
        ({"dataframe_split": {"columns": ["query"], "data": [[text]]}}, {"predictions": {"content": text}}),
    ]


def _paths(value, prefix=()):
    yield prefix
    if isinstance(value, dict):
        for key, child in value.items():
            yield from _paths(child, prefix + (key,))
    elif isinstance(value, list):
        for index, child in enumerate(value):
            yield from _paths(child, prefix + (index,))


def _replace(value, path, new):
    if not path:
        return new
    value[path[0]] = _replace(value[path[0]], path[1:], new)
    return value


@st.composite
def hostile_body(draw, body, huge: int = 200_000):
    """A body (dict or list) as text, possibly mutated (a copy: templates share module constants)."""
    body = copy.deepcopy(body)
    mutation = draw(st.sampled_from(["none", "subtree", "subtree", "truncate", "not_object", "deep", "huge",
                                     "duplicate_key", "empty", "null", "surrogate", "control"]))
    if mutation == "subtree":
        path = draw(st.sampled_from(list(_paths(body))))
        body = _replace(body, path, draw(ANY_JSON))
    if mutation == "not_object":
        return json.dumps(draw(st.one_of(JSON_SCALARS, st.lists(JSON_SCALARS, max_size=3))))
    if mutation == "deep":
        depth = draw(st.integers(50, 400))
        return json.dumps(body)[:-1] + ', "deep": ' + "[" * depth + "]" * depth + "}" if isinstance(body, dict) else "[" * depth + "]" * depth
    if mutation == "huge":
        return json.dumps(_replace(body, draw(st.sampled_from(list(_paths(body)))), "x" * draw(st.integers(10_000, huge))))
    if mutation == "duplicate_key" and isinstance(body, dict) and body:
        key = draw(st.sampled_from(list(body)))
        return "{" + json.dumps(key) + ": " + json.dumps(draw(ANY_JSON)) + ", " + json.dumps(body)[1:]
    if mutation == "empty":
        return ""
    if mutation == "null":
        return None
    text = json.dumps(body, ensure_ascii=draw(st.booleans()))
    if mutation in ("surrogate", "control") and '"' in text:
        # inside the first string of the body: an escape of a lone surrogate, or a raw control character
        at = text.index('"') + 1
        return text[:at] + ("\\ud800" if mutation == "surrogate" else "\x01") + text[at:]
    if mutation == "truncate":
        return text[: draw(st.integers(0, max(0, len(text) - 1)))]
    return text


@st.composite
def payload_rows(draw, huge: int = 200_000):
    """1 to 12 gateway rows: hostile bodies, repeated and missing request ids, several statuses."""
    from tests.conftest import gateway_row

    rows = []
    for index in range(draw(st.integers(1, 12))):
        text = draw(TEXT)
        request, response = draw(st.sampled_from(templates(text)))
        request_id = draw(st.sampled_from([f"id-{index}", "id-dup", None, ""]))
        status = draw(st.sampled_from([200, 200, 500, 429]))
        rows.append(gateway_row(request_id, draw(hostile_body(request, huge)), draw(hostile_body(response, huge)),
                                status=status))
    return rows


# --- what must hold ----------------------------------------------------------------------------


def _refuse(constant):
    raise ValueError(constant)


_LONE_SURROGATE = re.compile("[\ud800-\udfff]")


def strict_json(text: str):
    """``text`` as JSON the way the rules read it (NaN and Infinity are not JSON)."""
    return json.loads(text, parse_constant=_refuse)


def _strings(value):
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for child in value.values():
            yield from _strings(child)
    elif isinstance(value, list):
        for child in value:
            yield from _strings(child)


def composed_of(text: str, raw: str) -> bool:
    """True when ``text`` is a concatenation of whole string values of the JSON ``raw`` (and of
    the newlines that join parts): nothing in it was invented. JSON-encoded strings inside the
    body count with their own string values; a lone surrogate reads as U+FFFD."""
    pieces = set()
    stack = [strict_json(raw)]
    while stack:
        for value in _strings(stack.pop()):
            pieces.add(_LONE_SURROGATE.sub("\ufffd", value))
            try:
                stack.append(strict_json(value))
            except (ValueError, RecursionError):
                pass
    pieces = {p for p in pieces if p} | {"\n"}
    reachable = [True] + [False] * len(text)
    for start in range(len(text)):
        if reachable[start]:
            for piece in pieces:
                if text.startswith(piece, start):
                    reachable[start + len(piece)] = True
    return reachable[len(text)]


def is_json(text: str | None) -> bool:
    if text is None:
        return False
    try:
        strict_json(text)
        return True
    except (ValueError, RecursionError):
        return False
