"""The last user query, the request shape and the conversation id, per request-body shape. No
Spark: each case is a body with the expected value beside it."""
import json

import pytest

from pipelines.rules.decode import read
from pipelines.rules.request import user_query
from pipelines.samples.sample_payloads import chat_request, rag_request, responses_request
from schemas.bodies import RequestBody


def query_of(body):
    raw = None if body is None else body.encode() if isinstance(body, str) else json.dumps(body).encode()
    return user_query(read(raw, RequestBody))


CASES = [
    ("chat: last user message", chat_request("Where is my data?"), "Where is my data?", "chat_messages"),
    ("chat: last turn is a tool, the user's question comes before",
     chat_request("Find the failing job", with_tool_turn=True), "Find the failing job", "chat_messages"),
    ("chat: content as text parts",
     {"messages": [{"role": "user", "content": [{"type": "text", "text": "part one"}, {"type": "image_url", "image_url": {}},
                                                 {"type": "text", "text": "part two"}]}]},
     "part one\npart two", "chat_messages"),
    ("chat: content as one part", {"messages": [{"role": "user", "content": {"type": "text", "text": "one"}}]}, "one",
     "chat_messages"),
    ("chat: empty content is kept empty", {"messages": [{"role": "user", "content": ""}]}, "", "chat_messages"),
    ("responses: input items with function calls after", responses_request("Latest question?"), "Latest question?",
     "responses_input"),
    ("responses: the last user item that is a message",
     {"input": [{"role": "user", "content": "asked"}, {"type": "function_call_output", "role": "user", "content": "x"}]},
     "asked", "responses_input"),
    ("responses: input as a string", responses_request("Just a string", as_items=False), "Just a string", "input_text"),
    ("input that is an object has no text", {"input": {"a": 1}}, None, "input_text"),
    ("legacy RAG query with history", rag_request("What is MLflow?"), "What is MLflow?", "rag_query"),
    ("completion prompt string", {"prompt": "Once upon a time"}, "Once upon a time", "completion_prompt"),
    ("completion prompt list", {"prompt": ["first", "second"]}, "first\nsecond", "completion_prompt"),
    ("embeddings input list", {"input": ["alpha", "beta"]}, "alpha\nbeta", "embeddings_input"),
    ("embeddings input list with a number skipped", {"input": ["alpha", 3, "beta"]}, "alpha\nbeta", "embeddings_input"),
    ("pyfunc dataframe_records wrapping chat", {"dataframe_records": [chat_request("wrapped?")]}, "wrapped?",
     "pyfunc:chat_messages"),
    ("pyfunc dataframe_split", {"dataframe_split": {"columns": ["query", "k"], "data": [["split q", 3]]}}, "split q",
     "pyfunc:rag_query"),
    ("pyfunc dataframe_split: columns and values of different lengths",
     {"dataframe_split": {"columns": ["query", "x"], "data": [["q"]]}}, None, "unknown"),
    ("pyfunc dataframe_split: a column named twice",
     {"dataframe_split": {"columns": ["query", "query"], "data": [["a", "b"]]}}, None, "unknown"),
    ("pyfunc inputs object", {"inputs": {"query": "inputs q"}}, "inputs q", "pyfunc:rag_query"),
    ("pyfunc inputs list", {"inputs": [{"prompt": "listed"}]}, "listed", "pyfunc:completion_prompt"),
    ("pyfunc inputs object without a conversation", {"inputs": {"k": 3}}, None, "unknown"),
    ("pyfunc instances", {"instances": [{"prompt": "inst p"}]}, "inst p", "pyfunc:completion_prompt"),
    ("no user message at all", {"messages": [{"role": "system", "content": "sys"}]}, None, "chat_messages"),
    ("unknown object", {"foo": 1}, None, "unknown"),
    ("a field of another type leaves the others readable", {"messages": "oops", "query": "still here"}, "still here",
     "rag_query"),
    ("a query that is not a string is no query", {"query": 42}, None, "rag_query"),
    ("JSON that is not an object", '"hi"', None, "unknown"),
    ("JSON null", "null", None, "unknown"),
    ("not JSON", '{"messages": [{"role": "us', None, "not_json"),
    ("not logged", None, None, "not_logged"),
]


@pytest.mark.parametrize("name,body,query,shape", CASES, ids=[c[0] for c in CASES])
def test_user_query_and_shape(name, body, query, shape):
    found = query_of(body)
    assert (found.text, found.shape) == (query, shape)


@pytest.mark.parametrize("body,expected", [
    (chat_request("q", conversation_id="conv-1"), "conv-1"),
    (responses_request("q", conversation_id="conv-2"), "conv-2"),
    ({"messages": [], "databricks_options": {"conversation_id": "a"}, "context": {"conversation_id": "b"}}, "a"),
    ({"messages": [], "databricks_options": {}, "context": {"conversation_id": "b"}}, "b"),
    ({"dataframe_records": [{"query": "q", "context": {"conversation_id": "inner"}}]}, "inner"),
    ({"query": "q", "databricks_options": {"conversation_id": 7}}, None),
    (rag_request("q"), None),
])
def test_conversation_id(body, expected):
    assert query_of(body).conversation_id == expected
