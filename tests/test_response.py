"""The answer, the response shape, the trace and its format, per response-body shape."""
import json

import pytest
from chispa import assert_column_equality
from pyspark.sql import functions as F

from pipelines.samples.sample_payloads import (
    chat_agent_response,
    chat_request,
    chat_agent_stream,
    chat_completion,
    chat_stream,
    responses_agent_response,
    responses_stream,
    trace_mlflow2,
    trace_mlflow3,
    trace_v1,
    trace_v2,
)
from pipelines.transforms.classify import REQUEST_LOGS, classify_payload
from pipelines.transforms.request_logs import request_log_rows
from pipelines.transforms.response import is_stream, parse_response, stream_kind
from schemas.payload import GATEWAY_PAYLOAD
from tests.conftest import gateway_row


_BODIES: list = []


def body(value):
    """Register a response body for the one extraction job of this module; returns its key."""
    _BODIES.append(value)
    return len(_BODIES) - 1


@pytest.fixture(scope="module")
def extracted(spark):
    """The request-logs response fields of every registered body, derived in one Spark job."""
    rows = [gateway_row(str(key), chat_request("q"), value) for key, value in enumerate(_BODIES)]
    classified = classify_payload(spark.createDataFrame(rows, GATEWAY_PAYLOAD))
    derived = request_log_rows(classified.where(F.col("destination") == REQUEST_LOGS)).collect()
    return {int(r["databricks_request_id"]): {"answer": r["response"], "shape": r["response_shape"],
                                              "trace": r["trace"], "format": r["schema_version"]} for r in derived}


ANSWER = "Set delta.enableChangeDataFeed to true."

CASES = [
    ("chat completion", chat_completion(ANSWER), ANSWER, "chat_completion"),
    ("completion text", {"choices": [{"text": ANSWER}]}, ANSWER, "completion"),
    ("chat agent with tool calls: last assistant message with content", chat_agent_response(ANSWER), ANSWER, "chat_agent"),
    ("responses agent: last message item", responses_agent_response(ANSWER), ANSWER, "responses_agent"),
    ("legacy content string", {"content": ANSWER}, ANSWER, "legacy_content"),
    ("pyfunc predictions string list", {"predictions": [ANSWER]}, ANSWER, "pyfunc:string"),
    ("pyfunc predictions object", {"predictions": chat_completion(ANSWER)}, ANSWER, "pyfunc:chat_completion"),
    ("error body", {"error_code": "BAD_REQUEST", "message": "no"}, None, "error"),
    ("chat stream of chunks", chat_stream(ANSWER), ANSWER, "stream_chat"),
    ("chat agent stream: deltas of the last assistant message", chat_agent_stream(ANSWER), ANSWER, "stream_chat_agent"),
    ("chat agent stream: only the last answering message's deltas, parts joined",
     [{"delta": {"id": "a1", "role": "assistant", "content": "an earlier "}}, {"delta": {"id": "a1", "content": "reply"}},
      {"delta": {"id": "t1", "role": "tool", "content": "tool output"}},
      {"delta": {"id": "a2", "role": "assistant", "content": [{"type": "text", "text": ANSWER[:9]}]}},
      {"delta": {"id": "a2", "content": ANSWER[9:]}}], ANSWER, "stream_chat_agent"),
    ("responses stream with a completed item", responses_stream(ANSWER), ANSWER, "stream_responses"),
    ("responses stream cut off before the item completed", responses_stream(ANSWER, completed=False), ANSWER,
     "stream_responses"),
    ("stream blocked part-way keeps the partial text", chat_stream(ANSWER)[:3], " ".join(ANSWER.split(" ")[:3]) + " ",
     "stream_chat"),
    ("stream blocked at once has no text", [{"object": "chat.completion.chunk", "choices": [{"delta": {}}]}], None,
     "stream_chat"),
]


@pytest.mark.parametrize("name,key,answer,shape", [(n, body(b), a, s) for n, b, a, s in CASES], ids=[c[0] for c in CASES])
def test_answer_and_shape(extracted, name, key, answer, shape):
    got = extracted[key]
    assert (got["answer"], got["shape"]) == (answer, shape)


TRACES = [
    ("no trace", chat_completion(ANSWER), "0"),
    ("v1 steps", chat_completion(ANSWER, trace_v1("q", ANSWER)), "1"),
    ("v2 spans, version as number", chat_completion(ANSWER, trace_v2("q", ANSWER)), "2"),
    ("v2 spans, version as string", chat_completion(ANSWER, trace_v2("q", ANSWER, version="2")), "2"),
    ("MLflow 2 trace with info", chat_agent_response(ANSWER, trace_mlflow2("q", ANSWER)), "3"),
    ("MLflow 3 trace with info.trace_id", responses_agent_response(ANSWER, trace_mlflow3("q", ANSWER)), "3"),
    ("trace in a stream chunk", chat_stream(ANSWER, trace_mlflow3("q", ANSWER)), "3"),
    ("trace in a responses stream event", responses_stream(ANSWER, trace_mlflow3("q", ANSWER)), "3"),
]


@pytest.mark.parametrize("name,key,fmt", [(n, body(b), f) for n, b, f in TRACES], ids=[t[0] for t in TRACES])
def test_trace_format_per_row(extracted, name, key, fmt):
    assert extracted[key]["format"] == fmt


UNSORTED_TRACE = {"zeta_first": 1, **trace_mlflow3("question", ANSWER, error="tool exploded"),
                  "alpha_last": {"b": 2, "a": [1, {"y": True, "x": None}]}}
UNSORTED = body(responses_agent_response(ANSWER, UNSORTED_TRACE))


def test_trace_text_is_the_trace_as_logged_in_its_key_order(extracted):
    trace, got = UNSORTED_TRACE, extracted[UNSORTED]
    assert json.loads(got["trace"]) == trace
    assert got["trace"] == json.dumps(trace, separators=(",", ":"))   # keys as logged, not sorted


ENCODED = body({"content": ANSWER, "databricks_output": {"trace": json.dumps(trace_v1("q", ANSWER))}})


def test_trace_sent_as_json_string_is_decoded(extracted):
    got = extracted[ENCODED]
    assert (json.loads(got["trace"]), got["format"]) == (trace_v1("q", ANSWER), "1")


NUMBER, NOT_JSON_STRING = (body({"content": ANSWER, "databricks_output": {"trace": value}}) for value in (42, "not json"))


def test_trace_that_is_not_an_object_has_no_format(extracted):
    assert (extracted[NUMBER]["trace"], extracted[NUMBER]["format"]) == ("42", None)


def test_trace_that_is_a_string_holding_no_json_stays_a_json_string(extracted):
    assert (extracted[NOT_JSON_STRING]["trace"], extracted[NOT_JSON_STRING]["format"]) == ('"not json"', None)


def _responses_events(*events):
    return [dict(zip(("type", "item_id", "delta"), e)) if e[0].endswith("delta") else
            {"type": e[0], "item": {"type": e[1], "id": e[2], "role": "assistant",
                                    "content": [{"type": "output_text", "text": e[3]}] if e[3] else []}}
            for e in events]


STREAMED_RESPONSES = [
    ("a completed message item", [("response.output_text.delta", "m1", "Hel"), ("response.output_text.delta", "m1", "lo"),
                                  ("response.output_item.done", "message", "m1", "Hello")], "Hello"),
    ("a message item cut off: its deltas", [("response.output_text.delta", "m1", "Hel")], "Hel"),
    ("text before a tool call, then a later item cut off: the later item's deltas",
     [("response.output_text.delta", "m1", "Let me look"), ("response.output_item.done", "message", "m1", "Let me look"),
      ("response.output_item.done", "function_call", "f1", None),
      ("response.output_text.delta", "m2", "The answer is"), ("response.output_text.delta", "m2", " 4")],
     "The answer is 4"),
    ("the last item completed after an earlier one: the last",
     [("response.output_item.done", "message", "m1", "first"), ("response.output_text.delta", "m2", "sec"),
      ("response.output_item.done", "message", "m2", "second")], "second"),
]


@pytest.mark.parametrize("name,key,answer", [(n, body(_responses_events(*e)), a) for n, e, a in STREAMED_RESPONSES],
                         ids=[s[0] for s in STREAMED_RESPONSES])
def test_streamed_responses_answer_is_the_last_message_item(extracted, name, key, answer):
    got = extracted[key]
    assert (got["answer"], got["shape"]) == (answer, "stream_responses")


STREAM_CASES = [
    ('[{"choices": []}]', True),
    (' \t\r\n [{"type": "response.output_text.delta"}]', True),
    (" " * 300 + '[{"choices": []}]', True),        # past the characters read first
    (" " * 300 + '{"choices": []}', False),
    ('{"content": "[not a stream]"}', False),
    ("\u000b[1]", True),                             # \\x0b: what \\s matches, as before
    ("", False),
    (None, False),
]


def test_a_stream_is_a_body_whose_first_character_past_whitespace_is_a_bracket(spark):
    frame = spark.createDataFrame([(i, raw) for i, (raw, _) in enumerate(STREAM_CASES)], "case int, raw string")
    got = dict(frame.select("case", is_stream(F.col("raw"))).collect())
    assert [got[i] for i in range(len(STREAM_CASES))] == [expected for _, expected in STREAM_CASES]


def test_stream_kind_is_read_from_the_chunks_and_is_null_for_no_stream(spark):
    df = spark.createDataFrame([
        ('[{"choices": [{"delta": {"content": "a"}}]}, {"delta": {"content": "b"}}]', "stream_chat"),
        ('[{"type": "response.output_text.delta", "delta": "a"}]', "stream_responses"),
        ('[{"delta": {"role": "assistant", "content": "a"}}]', "stream_chat_agent"),
        ('[{"object": "chunk"}]', "stream_unknown"),
        ('[]', "stream_unknown"),
        (None, None),
    ], "raw string, expected string")
    got = stream_kind(parse_response(F.col("raw")))
    assert_column_equality(df.withColumn("got", got), "got", "expected")
