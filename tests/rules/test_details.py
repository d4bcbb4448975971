"""The request details: token usage, retrieved documents and tool calls, per body shape and
trace format. No Spark: each case is a body with the expected values beside it."""
import json

import pytest

from pipelines.rules.decode import read
from pipelines.rules.details import (
    RetrievedDocument,
    Tokens,
    read_trace_body,
    response_tokens,
    retrieved_documents,
    tool_call_count,
    trace_tokens,
)
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
from schemas.bodies import USAGE_BODY
from tests.rules.test_response import logged

ANSWER = "Set the table property to true."


def tokens_of(body):
    return response_tokens(read(logged(body), USAGE_BODY))


TOKEN_CASES = [
    ("chat completion usage", chat_completion(ANSWER), Tokens(120, 40, 160, "response")),
    ("responses usage names", {"output": [], "usage": {"input_tokens": 7, "output_tokens": 3, "total_tokens": 10}},
     Tokens(7, 3, 10, "response")),
    ("a total alone is kept alone, nothing computed", {"usage": {"total_tokens": 9}}, Tokens(None, None, 9, "response")),
    ("counts alone: no total invented", {"usage": {"prompt_tokens": 2, "completion_tokens": 1}},
     Tokens(2, 1, None, "response")),
    ("a count of the wrong type is null on its own", {"usage": {"prompt_tokens": "many", "completion_tokens": 4}},
     Tokens(None, 4, None, "response")),
    ("a count beyond 64 bits is null", {"usage": {"prompt_tokens": 2 ** 64, "completion_tokens": 4}},
     Tokens(None, 4, None, "response")),
    ("an empty usage is no usage", {"usage": {}}, None),
    ("no usage logged", chat_agent_response(ANSWER), None),
    ("chat stream's usage chunk", chat_stream("a b c"), Tokens(95, 3, 98, "stream")),
    ("responses stream's completed response", responses_stream(ANSWER, trace=trace_mlflow3("q", "a")),
     Tokens(410, 52, 462, "stream")),
    ("a stream without usage", chat_agent_stream(ANSWER), None),
    ("not JSON", '{"usage": {', None),
    ("not logged", None, None),
    ("a bare string", '"hi"', None),
]


@pytest.mark.parametrize("name, body, expected", TOKEN_CASES, ids=[c[0] for c in TOKEN_CASES])
def test_response_tokens(name, body, expected):
    assert tokens_of(body) == expected


def trace_of(trace):
    return read_trace_body(json.dumps(trace).encode())


SAMPLE_DOCS = [RetrievedDocument("dbfs:/docs/a.md", "Delta Lake is a storage layer.", 0.92),
               RetrievedDocument("dbfs:/docs/b.md", "Unity Catalog governs data and AI.", 0.71)]


def retriever_span(outputs, encoded=True, span_type="RETRIEVER"):
    return {"attributes": {"mlflow.spanType": json.dumps(span_type) if encoded else span_type,
                           "mlflow.spanOutputs": json.dumps(outputs) if encoded else outputs}}


TRACE_CASES = [
    # name, trace, expected tokens, expected documents
    ("format 1: retrieval steps' chunks, no token usage", trace_v1("q", "a"), None,
     [RetrievedDocument("dbfs:/docs/a.md", "Delta Lake is a storage layer.", None)]),
    ("format 2: RETRIEVER spans, tokens summed over spans", trace_v2("q", "a"), Tokens(300, 45, 345, "trace_spans"),
     SAMPLE_DOCS),
    ("MLflow 2 trace: data.spans", trace_mlflow2("q", "a"), Tokens(250, 30, 280, "trace_spans"), SAMPLE_DOCS),
    ("MLflow 3 trace: the trace's own total wins", trace_mlflow3("q", "a"), Tokens(812, 96, 908, "trace"), SAMPLE_DOCS),
    ("MLflow 2 trace total in request_metadata",
     {"info": {"request_metadata": {"mlflow.trace.tokenUsage": json.dumps({"input_tokens": 5, "output_tokens": 6,
                                                                            "total_tokens": 11})}}, "data": {"spans": []}},
     Tokens(5, 6, 11, "trace"), []),
    ("spans summed per count over the spans that logged it",
     {"spans": [{"attributes": {"mlflow.chat.tokenUsage": json.dumps({"input_tokens": 5})}},
                {"attributes": {"mlflow.chat.tokenUsage": json.dumps({"input_tokens": 1, "output_tokens": 2})}}]},
     Tokens(6, 2, None, "trace_spans"), []),
    ("attributes logged as plain JSON, not encoded",
     {"spans": [retriever_span([{"page_content": "x", "metadata": {"doc_uri": "u"}}], encoded=False)]},
     None, [RetrievedDocument("u", "x", None)]),
    ("a score beside the document, a document without metadata",
     {"spans": [retriever_span([{"page_content": "x", "score": 0.5}, {"page_content": "y"}])]},
     None, [RetrievedDocument(None, "x", 0.5), RetrievedDocument(None, "y", None)]),
    ("other span types are not retrievers", {"spans": [retriever_span([{"page_content": "x"}], span_type="TOOL")]},
     None, []),
    ("retriever outputs that are not JSON keep no document",
     {"spans": [{"attributes": {"mlflow.spanType": json.dumps("RETRIEVER"), "mlflow.spanOutputs": "\"[{\""}}]},
     None, []),
    ("retriever outputs of another shape: wrong elements are skipped",
     {"spans": [retriever_span(["text", {"page_content": 3, "metadata": {"doc_uri": "u"}}])]},
     None, [RetrievedDocument("u", None, None)]),
    ("several retrievers: trace order", {"spans": [retriever_span([{"page_content": "1"}]),
                                                   retriever_span([{"page_content": "2"}])]},
     None, [RetrievedDocument(None, "1", None), RetrievedDocument(None, "2", None)]),
    ("an empty object trace", {}, None, []),
]


@pytest.mark.parametrize("name, trace, tokens, documents", TRACE_CASES, ids=[c[0] for c in TRACE_CASES])
def test_trace_tokens_and_documents(name, trace, tokens, documents):
    body = trace_of(trace)
    assert trace_tokens(body) == tokens
    assert retrieved_documents(body) == documents


@pytest.mark.parametrize("text", [None, b"[1, 2]", b'"a string"', b"{not json", b"null"])
def test_no_trace_object_gives_no_documents_and_no_tokens(text):
    body = read_trace_body(text)
    assert body is None
    assert retrieved_documents(body) is None and trace_tokens(body) is None


CALL_CASES = [
    ("chat completion without calls", chat_completion(ANSWER), 0),
    ("chat completion with calls", {"choices": [{"message": {"role": "assistant", "tool_calls": [{"id": "a"}, {"id": "b"}]}}]},
     2),
    ("chat agent messages' calls", chat_agent_response(ANSWER), 1),
    ("responses function_call items", responses_agent_response(ANSWER), 1),
    ("chat stream: each call once, by its id",
     [{"choices": [{"delta": {"tool_calls": [{"id": "c1", "index": 0}]}}]},
      {"choices": [{"delta": {"tool_calls": [{"index": 0}]}}]},
      {"choices": [{"delta": {"tool_calls": [{"id": "c2", "index": 1}]}}]}], 2),
    ("chat agent stream", chat_agent_stream(ANSWER), 1),
    ("responses stream: done function_call items",
     [{"type": "response.output_item.done", "item": {"type": "function_call", "call_id": "f1"}},
      {"type": "response.output_item.done", "item": {"type": "message", "content": "x"}}], 1),
    ("responses stream: the completed response's items win",
     [{"type": "response.output_item.done", "item": {"type": "function_call", "call_id": "f1"}},
      {"type": "response.completed", "response": {"output": [{"type": "function_call", "call_id": "f1"},
                                                             {"type": "function_call", "call_id": "f2"}]}}], 2),
    ("a bare string", '"hi"', 0),
    ("not JSON", "{", None),
    ("not logged", None, None),
]


@pytest.mark.parametrize("name, body, expected", CALL_CASES, ids=[c[0] for c in CALL_CASES])
def test_tool_call_count(name, body, expected):
    assert tool_call_count(read(logged(body), USAGE_BODY)) == expected
