"""Property-based tests: whatever a payload table holds, the pipeline finishes, every row lands
in exactly one place, and no value is invented.

Bodies are drawn from the shapes of payload-formats.md with random text, then mutated: random
JSON, truncated JSON, wrong types at any path, nulls, unicode and control characters, deep
nesting, huge strings, duplicate keys, and JSON that is not an object.
"""
import copy
import json

import pytest
from pyspark.sql import functions as F
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pipelines.samples import sample_payloads as sp
from pipelines.transforms.classify import REQUEST_LOGS, classify_payload, may_hold_feedback
from pipelines.transforms.feedback import assessment_items
from pipelines.transforms.request_logs import request_log_rows
from schemas.bodies import PARSER_LIMITS
from schemas.payload import GATEWAY_PAYLOAD
from tests.conftest import gateway_row

TEXT = st.text(alphabet=st.characters(codec="utf-8", exclude_categories=["Cs"]), max_size=40)
JSON_SCALARS = st.one_of(st.none(), st.booleans(), st.integers(-10**6, 10**6), st.floats(allow_nan=False, allow_infinity=False), TEXT)
ANY_JSON = st.recursive(JSON_SCALARS, lambda inner: st.one_of(st.lists(inner, max_size=4),
                                                               st.dictionaries(TEXT, inner, max_size=4)), max_leaves=12)


def _templates(text: str):
    return [
        (sp.chat_request(text, with_tool_turn=True), sp.chat_completion(text)),
        (sp.responses_request(text), sp.responses_agent_response(text, sp.trace_mlflow3(text, text))),
        (sp.rag_request(text), sp.chat_agent_response(text, sp.trace_mlflow2(text, text))),
        ({"prompt": [text, text]}, sp.chat_stream(text, sp.trace_v2(text, text))),
        ({"dataframe_records": [sp.chat_request(text)]}, sp.chat_agent_stream(text)),
        (sp.responses_request(text, as_items=False), sp.responses_stream(text, completed=False)),
        (sp.feedback_request("r-" + text, text, text, encoded=True), sp.FEEDBACK_RESPONSE),
        (sp.feedback_request("r-" + text, text, 3.5), sp.FEEDBACK_RESPONSE),
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
def hostile_body(draw, body):
    """A body (dict or list) as text, possibly mutated (a copy: templates share module constants)."""
    body = copy.deepcopy(body)
    mutation = draw(st.sampled_from(["none", "subtree", "subtree", "truncate", "not_object", "deep", "huge",
                                     "duplicate_key", "empty", "null"]))
    if mutation == "subtree":
        path = draw(st.sampled_from(list(_paths(body))))
        body = _replace(body, path, draw(ANY_JSON))
    if mutation == "not_object":
        return json.dumps(draw(st.one_of(JSON_SCALARS, st.lists(JSON_SCALARS, max_size=3))))
    if mutation == "deep":
        depth = draw(st.integers(50, 400))
        return json.dumps(body)[:-1] + ', "deep": ' + "[" * depth + "]" * depth + "}" if isinstance(body, dict) else "[" * depth + "]" * depth
    if mutation == "huge":
        return json.dumps(_replace(body, draw(st.sampled_from(list(_paths(body)))), "x" * draw(st.integers(10_000, 200_000))))
    if mutation == "duplicate_key" and isinstance(body, dict) and body:
        key = draw(st.sampled_from(list(body)))
        return "{" + json.dumps(key) + ": " + json.dumps(draw(ANY_JSON)) + ", " + json.dumps(body)[1:]
    if mutation == "empty":
        return ""
    if mutation == "null":
        return None
    text = json.dumps(body, ensure_ascii=draw(st.booleans()))
    if mutation == "truncate":
        return text[: draw(st.integers(0, max(0, len(text) - 1)))]
    return text


@st.composite
def payload_rows(draw):
    rows = []
    for index in range(draw(st.integers(1, 12))):
        text = draw(TEXT)
        request, response = draw(st.sampled_from(_templates(text)))
        request_id = draw(st.sampled_from([f"id-{index}", "id-dup", None, ""]))
        status = draw(st.sampled_from([200, 200, 500, 429]))
        rows.append(gateway_row(request_id, draw(hostile_body(request)), draw(hostile_body(response)), status=status))
    return rows


def _strings(value):
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for child in value.values():
            yield from _strings(child)
    elif isinstance(value, list):
        for child in value:
            yield from _strings(child)


def _strict_json(text):
    def refuse(constant):
        raise ValueError(constant)
    return json.loads(text, parse_constant=refuse)


def _composed_of(text: str, raw: str) -> bool:
    """True when ``text`` is a concatenation of whole string values of the JSON ``raw`` (and of
    the newlines that join parts): nothing in it was invented. JSON-encoded strings inside the
    body count with their own string values."""
    pieces = set()
    stack = [_strict_json(raw)]
    while stack:
        for value in _strings(stack.pop()):
            pieces.add(value)
            try:
                stack.append(_strict_json(value))
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


@settings(max_examples=40, deadline=None, derandomize=True, database=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.large_base_example])
@given(rows=payload_rows())
def test_every_row_lands_once_and_no_value_is_invented(spark, rows):
    frame = classify_payload(spark.createDataFrame(rows, GATEWAY_PAYLOAD)).withColumns({
        "candidate": may_hold_feedback(F.col("request_raw")),
        "assessments": F.when(F.col("is_feedback"), assessment_items(F.col("request_body")))})
    fields = request_log_rows(frame.where(F.col("destination") == REQUEST_LOGS)).select(
        "databricks_request_id", "request", "response", "trace")
    classified = frame.join(fields, "databricks_request_id", "left").collect()   # one job per example

    # every payload row is accounted for exactly once
    assert len(classified) + sum(r["duplicates_collapsed"] for r in classified) == len(rows)
    assert {r["destination"] for r in classified} <= {"request_logs", "assessment_logs", "quarantine"}
    assert all((r["destination"] == "quarantine") == (r["reason"] is not None) for r in classified)
    distinct_ids = {r["databricks_request_id"] for r in rows if (r["databricks_request_id"] or "").strip()}
    assert {r["databricks_request_id"] for r in classified if r["databricks_request_id"]} == distinct_ids

    for row in classified:
        if row["databricks_request_id"] is None:
            assert row["reason"] == "missing_request_id"
            continue
        request_raw = row["request_raw"]
        if request_raw is not None:
            try:
                _strict_json(request_raw)
            except (ValueError, RecursionError):
                assert row["reason"] == "request_not_json"   # never derived from invalid JSON
        if row["destination"] == "request_logs":
            if row["request"] is not None:
                assert _composed_of(row["request"], request_raw)
            if row["response"] is not None:
                assert _composed_of(row["response"], row["response_raw"])
            if row["trace"] is not None:
                assert isinstance(_strict_json(row["trace"]), (dict, list, str, int, float))
        if row["destination"] == "assessment_logs":
            assert row["assessments"] and all(a["request_id"] for a in row["assessments"])
            assert row["assessment_count"] == len(row["assessments"])
        if row["is_feedback"]:   # the assessment-logs pass parses only the candidates
            assert row["candidate"]


@pytest.mark.parametrize("text, expected_response", [
    ("", None), ("   ", None), ("null", None), ("[]", None), ("{}", None), ("[1,2]", None), ("\u0000", None),
    ('{"messages": "\u2028"}', None),
    ('"hi"', "hi"),   # a bare JSON string is a pyfunc answer; as a request it is not a query
])
def test_degenerate_bodies_are_classified_not_crashed(spark, text, expected_response):
    rows = [gateway_row("x", text, text)]
    frame = classify_payload(spark.createDataFrame(rows, GATEWAY_PAYLOAD))
    [row] = frame.collect()
    assert row["destination"] in ("request_logs", "quarantine")
    if row["destination"] == "request_logs":
        [derived] = request_log_rows(frame.where(F.col("destination") == REQUEST_LOGS)).collect()
        assert (derived["request"], derived["response"]) == (None, expected_response)


def test_json_at_the_parser_limits_is_read_and_beyond_them_is_not_json(spark):
    """PARSER_LIMITS: a body at each limit is read; one past it, the request is quarantined as
    request_not_json, the response's shape is not_json, and nothing fails."""
    question = {"messages": [{"role": "user", "content": "q"}]}
    answer = sp.chat_completion("a")

    def with_part(body: dict, part: str) -> str:
        return json.dumps(body)[:-1] + ", " + part + "}"

    parts = {   # limit -> the part of a body that reaches it with n (the body's own object is a level)
        "nesting_depth": lambda n: '"deep": ' + "[" * (n - 1) + "]" * (n - 1),
        "number_digits": lambda n: '"n": ' + "1" * n,
        "key_characters": lambda n: json.dumps("k" * n) + ": 1",
    }
    rows, expected = [], {}
    for limit, part in parts.items():
        for over in (0, 1):
            rows.append(gateway_row(f"request {limit} +{over}", with_part(question, part(PARSER_LIMITS[limit] + over)), answer))
            expected[f"request {limit} +{over}"] = ("quarantine", "request_not_json") if over else ("request_logs", "q")
    for over in (0, 1):   # a string the rules read: the user's message
        text = "x" * (PARSER_LIMITS["string_characters"] + over)
        rows.append(gateway_row(f"request string +{over}", {"messages": [{"role": "user", "content": text}]}, answer))
        expected[f"request string +{over}"] = ("quarantine", "request_not_json") if over else ("request_logs", text)
        rows.append(gateway_row(f"response depth +{over}", question,
                                with_part(answer, parts["nesting_depth"](PARSER_LIMITS["nesting_depth"] + over))))

    frame = classify_payload(spark.createDataFrame(rows, GATEWAY_PAYLOAD))
    logs = request_log_rows(frame.where(F.col("destination") == REQUEST_LOGS)).select(
        "databricks_request_id", "request", "response", "response_shape")
    found = {row["databricks_request_id"]: row for row in
             frame.select("databricks_request_id", "destination", "reason").join(logs, "databricks_request_id", "left").collect()}
    for request_id, (destination, value) in expected.items():
        row = found[request_id]
        assert (row["destination"], row["reason"] if destination == "quarantine" else row["request"]) == (destination, value), request_id
    assert (found["response depth +0"]["response_shape"], found["response depth +0"]["response"]) == ("chat_completion", "a")
    assert (found["response depth +1"]["response_shape"], found["response depth +1"]["response"]) == ("not_json", None)
