"""The answer, the response shape, the trace as logged and its format, per response-body shape.
No Spark: each case is a body with the expected values beside it."""
import json

import pytest

from pipelines.rules.decode import read
from pipelines.rules.response import response_fields
from pipelines.samples.sample_payloads import (
    chat_agent_response,
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
from schemas.bodies import RESPONSE_BODY


def logged(body) -> bytes | None:
    """A body as the payload table holds it (a str is already JSON text)."""
    return None if body is None else body.encode() if isinstance(body, str) else json.dumps(body).encode()


def fields_of(body):
    answer, trace = response_fields(read(logged(body), RESPONSE_BODY))
    return answer.text, answer.shape, trace.text, trace.format


ANSWER = "Set delta.enableChangeDataFeed to true."

CASES = [
    ("chat completion", chat_completion(ANSWER), ANSWER, "chat_completion"),
    ("chat completion with empty content keeps it empty", chat_completion(""), "", "chat_completion"),
    ("completion text", {"choices": [{"text": ANSWER}]}, ANSWER, "completion"),
    ("chat agent with tool calls: last assistant message with content", chat_agent_response(ANSWER), ANSWER, "chat_agent"),
    ("responses agent: last message item", responses_agent_response(ANSWER), ANSWER, "responses_agent"),
    ("responses agent without a message item", {"object": "response", "output": [{"type": "reasoning"}]}, None,
     "responses_agent"),
    ("legacy content string", {"content": ANSWER}, ANSWER, "legacy_content"),
    ("legacy content as parts", {"content": [{"type": "text", "text": "a"}, {"type": "text", "text": "b"}]}, "a\nb",
     "legacy_content"),
    ("pyfunc predictions string list", {"predictions": [ANSWER]}, ANSWER, "pyfunc:string"),
    ("pyfunc predictions string", {"predictions": ANSWER}, ANSWER, "pyfunc:string"),
    ("pyfunc predictions object", {"predictions": chat_completion(ANSWER)}, ANSWER, "pyfunc:chat_completion"),
    ("pyfunc predictions of another kind", {"predictions": {"result": "ok"}}, None, "pyfunc:unknown"),
    ("pyfunc predictions empty list", {"predictions": []}, None, "pyfunc:unknown"),
    ("error body", {"error_code": "BAD_REQUEST", "message": "no"}, None, "error"),
    ("error object", {"error": {"message": "no"}}, None, "error"),
    ("a bare JSON string is a pyfunc answer", '"hi"', "hi", "string"),
    ("JSON null", "null", None, "unknown"),
    ("a number", "42", None, "unknown"),
    ("an object of no known shape", {"foo": 1}, None, "unknown"),
    ("not JSON", '{"choices": [', None, "not_json"),
    ("not logged", None, None, "not_logged"),
    ("chat stream of chunks", chat_stream(ANSWER), ANSWER, "stream_chat"),
    ("a stream with whitespace before it", " \t\r\n " + json.dumps(chat_stream(ANSWER)), ANSWER, "stream_chat"),
    ("chat agent stream: deltas of the last assistant message", chat_agent_stream(ANSWER), ANSWER, "stream_chat_agent"),
    ("chat agent stream: only the last answering message's deltas, parts joined",
     [{"delta": {"id": "a1", "role": "assistant", "content": "an earlier "}}, {"delta": {"id": "a1", "content": "reply"}},
      {"delta": {"id": "t1", "role": "tool", "content": "tool output"}},
      {"delta": {"id": "a2", "role": "assistant", "content": [{"type": "text", "text": ANSWER[:9]}]}},
      {"delta": {"id": "a2", "content": ANSWER[9:]}}], ANSWER, "stream_chat_agent"),
    ("responses stream with a completed item", responses_stream(ANSWER), ANSWER, "stream_responses"),
    ("responses stream cut off before the item completed", responses_stream(ANSWER, completed=False), ANSWER,
     "stream_responses"),
    ("responses stream closed by response.completed with the whole response",
     [{"type": "response.output_text.delta", "item_id": "m1", "delta": "draft"},
      {"type": "response.completed", "response": responses_agent_response(ANSWER)}], ANSWER, "stream_responses"),
    ("stream blocked part-way keeps the partial text", chat_stream(ANSWER)[:3], " ".join(ANSWER.split(" ")[:3]) + " ",
     "stream_chat"),
    ("stream blocked at once has no text", [{"object": "chat.completion.chunk", "choices": [{"delta": {}}]}], None,
     "stream_chat"),
    ("a chunk that is not an object is skipped", [7, {"choices": [{"delta": {"content": "x"}}]}], "x", "stream_chat"),
    ("an array of no known chunks", "[1, 2]", None, "stream_unknown"),
    ("an empty array", "[]", None, "stream_unknown"),
]


@pytest.mark.parametrize("name,body,answer,shape", CASES, ids=[c[0] for c in CASES])
def test_answer_and_shape(name, body, answer, shape):
    assert fields_of(body)[:2] == (answer, shape)


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


@pytest.mark.parametrize("name,events,answer", STREAMED_RESPONSES, ids=[s[0] for s in STREAMED_RESPONSES])
def test_streamed_responses_answer_is_the_last_message_item(name, events, answer):
    assert fields_of(_responses_events(*events))[:2] == (answer, "stream_responses")


TRACES = [
    ("no trace", chat_completion(ANSWER), "0"),
    ("a null trace is no trace", {"content": ANSWER, "databricks_output": {"trace": None}}, "0"),
    ("v1 steps", chat_completion(ANSWER, trace_v1("q", ANSWER)), "1"),
    ("v2 spans, version as number", chat_completion(ANSWER, trace_v2("q", ANSWER)), "2"),
    ("v2 spans, version as string", chat_completion(ANSWER, trace_v2("q", ANSWER, version="2")), "2"),
    ("MLflow 2 trace with info", chat_agent_response(ANSWER, trace_mlflow2("q", ANSWER)), "3"),
    ("MLflow 3 trace with info.trace_id", responses_agent_response(ANSWER, trace_mlflow3("q", ANSWER)), "3"),
    ("trace in a stream chunk", chat_stream(ANSWER, trace_mlflow3("q", ANSWER)), "3"),
    ("trace in a responses stream event", responses_stream(ANSWER, trace_mlflow3("q", ANSWER)), "3"),
    ("trace on a pyfunc prediction", {"predictions": chat_completion(ANSWER, trace_v1("q", ANSWER))}, "1"),
    ("no trace on an error", {"error_code": "X"}, "0"),
    ("no trace when not logged", None, "0"),
]


@pytest.mark.parametrize("name,body,fmt", TRACES, ids=[t[0] for t in TRACES])
def test_trace_format_per_row(name, body, fmt):
    assert fields_of(body)[3] == fmt


def test_the_trace_is_the_text_that_was_logged_whitespace_and_key_order_included():
    trace = {"zeta_first": 1, **trace_mlflow3("question", ANSWER, error="tool exploded"),
             "alpha_last": {"b": 2, "a": [1, {"y": True, "x": None}]}}
    as_logged = json.dumps(trace, indent=1)
    body = '{"object": "response", "output": [], "databricks_output": {"trace": ' + as_logged + "}}"
    assert fields_of(body)[2:] == (as_logged, "3")


@pytest.mark.parametrize("name,trace,text,fmt", [
    ("a JSON-encoded string holding a trace is that trace", json.dumps(trace_v1("q", ANSWER)),
     json.dumps(trace_v1("q", ANSWER)), "1"),
    ("a JSON-encoded string holding other JSON is that JSON", "[1, 2]", "[1, 2]", None),
    ("a string holding no JSON stays the JSON string as logged", "not json", '"not json"', None),
    ("a number is kept as logged", 42, "42", None),
    ("a version key of JSON null is format 1", {"mlflow.trace_schema.version": None, "spans": []},
     '{"mlflow.trace_schema.version": null, "spans": []}', "1"),
])
def test_traces_of_other_kinds(name, trace, text, fmt):
    assert fields_of({"content": ANSWER, "databricks_output": {"trace": trace}})[2:] == (text, fmt)
