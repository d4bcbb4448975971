"""The answer, the response shape, the trace and its format, per response-body shape."""
import json

import pytest
from pyspark.sql import functions as F

from pipelines import response_bodies
from pipelines.sample_payloads import (
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
from tests.conftest import as_text


def extract(spark, body):
    df = spark.createDataFrame([(as_text(body),)], "raw string").withColumn("body", F.try_parse_json("raw"))
    body_col = F.col("body")
    predicted = response_bodies.prediction(body_col)
    chunks = response_bodies.stream_chunks(body_col, F.col("raw"))
    root = response_bodies.unwrap_response(body_col, predicted)
    trace = response_bodies.trace_value(response_bodies.trace_on_body(body_col), root, chunks)
    row = df.select(
        response_bodies.answer(root, chunks).alias("answer"),
        response_bodies.response_shape(root, chunks, predicted).alias("shape"),
        F.to_json(trace).alias("trace"),
        response_bodies.trace_format(trace).alias("format"),
    ).first()
    return row.asDict()


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
    ("responses stream with a completed item", responses_stream(ANSWER), ANSWER, "stream_responses"),
    ("responses stream cut off before the item completed", responses_stream(ANSWER, completed=False), ANSWER,
     "stream_responses"),
    ("stream blocked part-way keeps the partial text", chat_stream(ANSWER)[:3], " ".join(ANSWER.split(" ")[:3]) + " ",
     "stream_chat"),
    ("stream blocked at once has no text", [{"object": "chat.completion.chunk", "choices": [{"delta": {}}]}], None,
     "stream_chat"),
]


@pytest.mark.parametrize("name,body,answer,shape", CASES, ids=[c[0] for c in CASES])
def test_answer_and_shape(spark, name, body, answer, shape):
    got = extract(spark, body)
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


@pytest.mark.parametrize("name,body,fmt", TRACES, ids=[t[0] for t in TRACES])
def test_trace_format_per_row(spark, name, body, fmt):
    assert extract(spark, body)["format"] == fmt


def test_trace_text_is_the_trace_as_json(spark):
    trace = trace_mlflow3("question", ANSWER, error="tool exploded")
    got = extract(spark, responses_agent_response(ANSWER, trace))
    assert json.loads(got["trace"]) == trace


def test_trace_sent_as_json_string_is_decoded(spark):
    trace = trace_v1("q", ANSWER)
    body = {"content": ANSWER, "databricks_output": {"trace": json.dumps(trace)}}
    got = extract(spark, body)
    assert (json.loads(got["trace"]), got["format"]) == (trace, "1")


def test_trace_that_is_not_an_object_has_no_format(spark):
    got = extract(spark, {"content": ANSWER, "databricks_output": {"trace": 42}})
    assert (got["trace"], got["format"]) == ("42", None)
