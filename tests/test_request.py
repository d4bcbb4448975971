"""The last user query, the request shape and the conversation id, per request-body shape."""
import pytest
from pyspark.sql import functions as F

from pipelines.transforms import request
from pipelines.samples.sample_payloads import chat_request, rag_request, responses_request
from tests.conftest import as_text


def extract(spark, body):
    df = spark.createDataFrame([(as_text(body),)], "raw string").select(
        request.parse_request(F.col("raw")).alias("request_body"))
    row = request.with_request_fields(df).first()
    return row["request"], row["request_shape"], row["conversation_id"]


CASES = [
    ("chat: last user message", chat_request("Where is my data?"), "Where is my data?", "chat_messages"),
    ("chat: last turn is a tool, the user's question comes before",
     chat_request("Find the failing job", with_tool_turn=True), "Find the failing job", "chat_messages"),
    ("chat: content as text parts",
     {"messages": [{"role": "user", "content": [{"type": "text", "text": "part one"}, {"type": "image_url", "image_url": {}},
                                                 {"type": "text", "text": "part two"}]}]},
     "part one\npart two", "chat_messages"),
    ("responses: input items with function calls after", responses_request("Latest question?"), "Latest question?",
     "responses_input"),
    ("responses: input as a string", responses_request("Just a string", as_items=False), "Just a string", "input_text"),
    ("legacy RAG query with history", rag_request("What is MLflow?"), "What is MLflow?", "rag_query"),
    ("completion prompt string", {"prompt": "Once upon a time"}, "Once upon a time", "completion_prompt"),
    ("completion prompt list", {"prompt": ["first", "second"]}, "first\nsecond", "completion_prompt"),
    ("embeddings input list", {"input": ["alpha", "beta"]}, "alpha\nbeta", "embeddings_input"),
    ("pyfunc dataframe_records wrapping chat", {"dataframe_records": [chat_request("wrapped?")]}, "wrapped?",
     "pyfunc:chat_messages"),
    ("pyfunc dataframe_split", {"dataframe_split": {"columns": ["query", "k"], "data": [["split q", 3]]}}, "split q",
     "pyfunc:rag_query"),
    ("pyfunc inputs object", {"inputs": {"query": "inputs q"}}, "inputs q", "pyfunc:rag_query"),
    ("pyfunc instances", {"instances": [{"prompt": "inst p"}]}, "inst p", "pyfunc:completion_prompt"),
    ("no user message at all", {"messages": [{"role": "system", "content": "sys"}]}, None, "chat_messages"),
    ("unknown object", {"foo": 1}, None, "unknown"),
    ("a field of another type leaves the others readable", {"messages": "oops", "query": "still here"}, "still here",
     "rag_query"),
    ("a query that is not a string is no query", {"query": 42}, None, "rag_query"),
]


@pytest.mark.parametrize("name,body,query,shape", CASES, ids=[c[0] for c in CASES])
def test_user_query_and_shape(spark, name, body, query, shape):
    assert extract(spark, body)[:2] == (query, shape)


def test_malformed_dataframe_split_does_not_fail_the_row(spark):
    # columns and data of different lengths would make map_from_arrays raise under ANSI
    body = {"dataframe_split": {"columns": ["query", "x"], "data": [["q"]]}}
    assert extract(spark, body)[0] is None


@pytest.mark.parametrize("body,expected", [
    (chat_request("q", conversation_id="conv-1"), "conv-1"),
    (responses_request("q", conversation_id="conv-2"), "conv-2"),
    ({"messages": [], "databricks_options": {"conversation_id": "a"}, "context": {"conversation_id": "b"}}, "a"),
    ({"dataframe_records": [{"query": "q", "context": {"conversation_id": "inner"}}]}, "inner"),
    (rag_request("q"), None),
])
def test_conversation_id(spark, body, expected):
    assert extract(spark, body)[2] == expected


@pytest.mark.parametrize("raw,is_json", [
    ('{"messages": []}', True),
    ('{"messages": "another type"}', True),   # valid JSON of another shape: not a parse failure
    ("null", True), ("42", True), ('"text"', True), ("[1, 2]", True),
    ('{"messages": [{"role": "us', False), ("{broken", False), ("", False), (None, False),
])
def test_invalid_json_is_told_apart_from_null_and_other_shapes(spark, raw, is_json):
    df = spark.createDataFrame([(raw,)], "raw string")
    got = df.select(request.is_json(F.col("raw"), request.parse_request(F.col("raw"))).alias("ok")).first()["ok"]
    assert got is is_json
