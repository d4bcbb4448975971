"""Realistic payload rows for every body shape, trace format and feedback encoding of
payload-formats.md, deterministic from a seed. Used by the demo (a sample payload table when none
is configured) and by the tests."""
from __future__ import annotations

import datetime as dt
import hashlib
import json
import random
import uuid
from dataclasses import dataclass
from typing import Any, Callable

from pyspark.sql import DataFrame, SparkSession

from schemas.payload import GATEWAY_PAYLOAD, LEGACY_PAYLOAD, PayloadGeneration

# --- traces -------------------------------------------------------------------------------


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def trace_v1(query: str, answer: str) -> dict:
    return {
        "app_version_id": "v1", "start_timestamp": "2024-05-01T10:00:00Z", "end_timestamp": "2024-05-01T10:00:02Z",
        "is_truncated": False,
        "steps": [
            {"step_id": "s1", "name": "retrieve", "type": "RETRIEVAL",
             "retrieval": {"query_text": query, "chunks": [
                 {"chunk_id": "c1", "doc_uri": "dbfs:/docs/a.md", "content": "Delta Lake is a storage layer."}]}},
            {"step_id": "s2", "name": "generate", "type": "LLM_GENERATION",
             "text_generation": {"prompt": query, "generated_text": answer}},
        ],
    }


#: The documents the sample's retrievers return (MLflow's Document: page_content, metadata).
RETRIEVED = [{"page_content": "Delta Lake is a storage layer.", "metadata": {"doc_uri": "dbfs:/docs/a.md", "score": 0.92},
              "id": "c1"},
             {"page_content": "Unity Catalog governs data and AI.", "metadata": {"doc_uri": "dbfs:/docs/b.md", "score": 0.71},
              "id": "c2"}]


def _retriever_attributes(query: str) -> dict:
    """A RETRIEVER span's attributes as MLflow logs them: JSON-encoded values."""
    return {"mlflow.spanType": json.dumps("RETRIEVER"), "mlflow.spanInputs": json.dumps({"query": query}),
            "mlflow.spanOutputs": json.dumps(RETRIEVED)}


def _llm_attributes(prompt_tokens: int, completion_tokens: int) -> dict:
    """A CHAT_MODEL span's attributes with its token usage."""
    return {"mlflow.spanType": json.dumps("CHAT_MODEL"), "mlflow.chat.tokenUsage": json.dumps(
        {"input_tokens": prompt_tokens, "output_tokens": completion_tokens, "total_tokens": prompt_tokens + completion_tokens})}


def trace_v2(query: str, answer: str, version: Any = 2) -> dict:
    return {
        "app_version_id": "v2", "start_timestamp": "2024-06-01T10:00:00Z", "end_timestamp": "2024-06-01T10:00:01Z",
        "is_truncated": False, "mlflow.trace_schema.version": version,
        "spans": [
            {"name": "agent", "context": {"span_id": "0x1", "trace_id": "0xabc"}, "parent_id": None,
             "start_time": 1717236000000000000, "end_time": 1717236001000000000, "status_code": "OK",
             "status_message": "", "attributes": {"mlflow.spanInputs": json.dumps({"query": query}),
                                                  "mlflow.spanOutputs": json.dumps(answer)}, "events": []},
            {"name": "retrieve", "context": {"span_id": "0x3", "trace_id": "0xabc"}, "parent_id": "0x1",
             "start_time": 1717236000100000000, "end_time": 1717236000200000000, "status_code": "OK",
             "status_message": "", "attributes": _retriever_attributes(query), "events": []},
            {"name": "generate", "context": {"span_id": "0x4", "trace_id": "0xabc"}, "parent_id": "0x1",
             "start_time": 1717236000200000000, "end_time": 1717236000900000000, "status_code": "OK",
             "status_message": "", "attributes": _llm_attributes(300, 45), "events": []},
        ],
    }


def trace_mlflow2(query: str, answer: str) -> dict:
    return {
        "info": {"request_id": "tr-" + _digest(query)[:12], "timestamp_ms": 1717236000000, "execution_time_ms": 850,
                 "status": "OK", "request_metadata": {"mlflow.traceInputs": query[:100]}, "tags": {}},
        "data": {"spans": [{"name": "agent", "context": {"span_id": "0x2", "trace_id": "0xdef"}, "parent_id": None,
                            "start_time": 1717236000000000000, "end_time": 1717236000850000000,
                            "status_code": "OK", "attributes": {}, "events": []},
                           {"name": "retrieve", "context": {"span_id": "0x5", "trace_id": "0xdef"}, "parent_id": "0x2",
                            "start_time": 1717236000100000000, "end_time": 1717236000200000000,
                            "status_code": "OK", "attributes": _retriever_attributes(query), "events": []},
                           {"name": "generate", "context": {"span_id": "0x6", "trace_id": "0xdef"}, "parent_id": "0x2",
                            "start_time": 1717236000200000000, "end_time": 1717236000800000000,
                            "status_code": "OK", "attributes": _llm_attributes(250, 30), "events": []}]},
    }


def trace_mlflow3(query: str, answer: str, error: str | None = None) -> dict:
    events = [] if error is None else [{"name": "exception", "timestamp_unix_nano": 1, "attributes": {
        "exception.message": error, "exception.type": "ToolError"}}]
    return {
        "info": {
            "trace_id": "tr-" + _digest(query + answer), "client_request_id": None,
            "request_time": "2025-03-01T10:00:00Z", "execution_duration_ms": 1200, "state": "OK",
            "request_preview": query[:1000], "response_preview": answer[:1000],
            "trace_metadata": {"mlflow.trace_schema.version": "3",
                               "mlflow.trace.tokenUsage": json.dumps({"input_tokens": 812, "output_tokens": 96,
                                                                      "total_tokens": 908})},
            "tags": {"mlflow.traceName": "agent"}, "assessments": [],
        },
        "data": {"spans": [
            {"trace_id": "AAAA", "span_id": "BBBB", "parent_span_id": None, "name": "ResponsesAgent.predict",
             "start_time_unix_nano": 1740823200000000000, "end_time_unix_nano": 1740823201200000000,
             "status": {"code": "STATUS_CODE_OK", "message": ""},
             "attributes": {"mlflow.spanType": "\"AGENT\""}, "events": events},
            {"trace_id": "AAAA", "span_id": "CCCC", "parent_span_id": "BBBB", "name": "retrieve",
             "start_time_unix_nano": 1740823200100000000, "end_time_unix_nano": 1740823200300000000,
             "status": {"code": "STATUS_CODE_OK", "message": ""}, "attributes": _retriever_attributes(query),
             "events": []},
        ]},
    }


# --- request bodies -----------------------------------------------------------------------


def chat_request(question: str, conversation_id: str | None = None, with_tool_turn: bool = False) -> dict:
    messages = [{"role": "system", "content": "You are a helpful assistant."},
                {"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello! How can I help?"},
                {"role": "user", "content": question}]
    if with_tool_turn:
        messages += [{"role": "assistant", "content": None, "tool_calls": [
                        {"id": "call_1", "type": "function", "function": {"name": "search", "arguments": "{}"}}]},
                     {"role": "tool", "content": "search results", "tool_call_id": "call_1"}]
    body: dict = {"messages": messages, "temperature": 0.1, "max_tokens": 512}
    if conversation_id:
        body["databricks_options"] = {"return_trace": True, "conversation_id": conversation_id}
    return body


def responses_request(question: str, as_items: bool = True, conversation_id: str | None = None) -> dict:
    body: dict = {"input": [
        {"type": "message", "role": "user", "content": "What is Unity Catalog?"},
        {"type": "message", "role": "assistant", "content": [{"type": "output_text", "text": "A governance layer."}]},
        {"type": "function_call", "call_id": "fc_1", "name": "lookup", "arguments": "{}"},
        {"type": "function_call_output", "call_id": "fc_1", "output": "ok"},
        {"role": "user", "content": [{"type": "input_text", "text": question}]},
    ] if as_items else question}
    if conversation_id:
        body["context"] = {"conversation_id": conversation_id, "user_id": "user@company.com"}
    body["databricks_options"] = {"return_trace": True}
    return body


def rag_request(question: str) -> dict:
    return {"query": question, "history": [{"role": "user", "content": "earlier"}, {"role": "assistant", "content": "x"}]}


# --- response bodies ----------------------------------------------------------------------


def chat_completion(answer: str, trace: dict | None = None) -> dict:
    body: dict = {"id": "chatcmpl-1", "object": "chat.completion", "model": "agent",
                  "choices": [{"index": 0, "message": {"role": "assistant", "content": answer}, "finish_reason": "stop"}],
                  "usage": {"prompt_tokens": 120, "completion_tokens": 40, "total_tokens": 160}}
    if trace is not None:
        body["databricks_output"] = {"trace": trace, "databricks_request_id": "x"}
    return body


def chat_agent_response(answer: str, trace: dict | None = None) -> dict:
    body: dict = {"messages": [
        {"id": "m1", "role": "assistant", "content": "", "tool_calls": [
            {"id": "call_1", "type": "function", "function": {"name": "search", "arguments": "{\"q\": \"x\"}"}}]},
        {"id": "m2", "role": "tool", "content": "{\"rows\": 3}", "name": "search", "tool_call_id": "call_1"},
        {"id": "m3", "role": "assistant", "content": answer},
    ]}
    if trace is not None:
        body["databricks_output"] = {"trace": trace}
    return body


def responses_agent_response(answer: str, trace: dict | None = None) -> dict:
    body: dict = {"object": "response", "id": "resp_1", "output": [
        {"type": "reasoning", "id": "rs_1", "summary": []},
        {"type": "function_call", "id": "fc_1", "call_id": "fc_1", "name": "lookup", "arguments": "{}"},
        {"type": "function_call_output", "call_id": "fc_1", "output": "ok"},
        {"type": "message", "id": "msg_1", "role": "assistant", "content": [{"type": "output_text", "text": answer}]},
    ]}
    if trace is not None:
        body["databricks_output"] = {"trace": trace, "databricks_request_id": "x"}
    return body


def chat_stream(answer: str, trace: dict | None = None) -> list:
    words = answer.split(" ")
    pieces = [word + (" " if i < len(words) - 1 else "") for i, word in enumerate(words)]
    chunks: list = [{"object": "chat.completion.chunk", "choices": [{"index": 0, "delta": {"role": "assistant", "content": p}}]}
                    for p in pieces]
    chunks.append({"object": "chat.completion.chunk", "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]})
    # the usage chunk a client asking for it gets (stream_options.include_usage)
    chunks.append({"object": "chat.completion.chunk", "choices": [],
                   "usage": {"prompt_tokens": 95, "completion_tokens": len(words), "total_tokens": 95 + len(words)}})
    if trace is not None:
        chunks[-1]["databricks_output"] = {"trace": trace}
    return chunks


def chat_agent_stream(answer: str) -> list:
    half = len(answer) // 2
    return [{"delta": {"id": "m1", "role": "assistant", "content": "", "tool_calls": [{"id": "c", "type": "function"}]}},
            {"delta": {"id": "m2", "role": "tool", "content": "tool output"}},
            {"delta": {"id": "m3", "role": "assistant", "content": answer[:half]}},
            {"delta": {"id": "m3", "content": answer[half:]}}]


def responses_stream(answer: str, trace: dict | None = None, completed: bool = True) -> list:
    half = len(answer) // 2
    events: list = [{"type": "response.output_text.delta", "item_id": "msg_1", "delta": answer[:half]},
                    {"type": "response.output_text.delta", "item_id": "msg_1", "delta": answer[half:]}]
    if completed:
        events.append({"type": "response.output_item.done", "item": {
            "type": "message", "id": "msg_1", "role": "assistant", "content": [{"type": "output_text", "text": answer}]}})
    if trace is not None:
        events.append({"type": "response.completed", "response": {"id": "resp_1", "status": "completed", "usage": {
            "input_tokens": 410, "output_tokens": 52, "total_tokens": 462}}, "databricks_output": {"trace": trace}})
    return events


def feedback_request(request_id: str, rater: str, value: Any = "positive", encoded: bool = False,
                     retrieval: bool = True, comment: str | None = None) -> dict:
    source = {"id": rater, "type": "human", "tags": {"app": "review"}}
    text = [{"ratings": {"answer_correct": {"value": value, "rationale": "matches the docs"}},
             "free_text_comment": comment}]
    record: dict = {"request_id": request_id, "source": source, "text_assessments": text}
    if retrieval:
        record["retrieval_assessments"] = [{"position": 0, "step_id": "s1", "ratings": {"groundedness": {"value": "positive"}}}]
    if encoded:
        for key in ("source", "text_assessments", "retrieval_assessments"):
            if key in record:
                record[key] = json.dumps(record[key])
    return {"dataframe_records": [record]}


FEEDBACK_RESPONSE = {"predictions": {"result": "ok"}}

# --- table rows ---------------------------------------------------------------------------

QUESTIONS = ["How do I enable change data feed on a Delta table?", "What is the difference between a view and a table?",
             "Summarise yesterday's failed jobs.", "Which clusters cost the most last week?",
             "How do I grant SELECT on a schema?", "Why is my streaming query lagging?"]
ANSWERS = ["Set the table property delta.enableChangeDataFeed to true.",
           "A view stores a query; a table stores data.", "Three jobs failed, all on the same cluster.",
           "The ML training cluster cost the most.", "Run GRANT SELECT ON SCHEMA main.sales TO analysts.",
           "The source has more partitions than the cluster has cores."]


@dataclass(frozen=True)
class Exchange:
    """One request/response pair of a known shape."""
    name: str
    request: Any
    response: Any
    status_code: int = 200


def _text(body: Any) -> str | None:
    return None if body is None else body if isinstance(body, str) else json.dumps(body)


def exchanges(rng: random.Random) -> list[Callable[[], Exchange]]:
    """Generators of every request/response shape, with a realistic mix of trace formats."""
    def qa() -> tuple[str, str]:
        i = rng.randrange(len(QUESTIONS))
        return QUESTIONS[i], ANSWERS[i]

    def make(name: str, build: Callable[[str, str], tuple[Any, Any]], status: int = 200) -> Callable[[], Exchange]:
        def generate() -> Exchange:
            question, answer = qa()
            request, response = build(question, answer)
            return Exchange(name, request, response, status)
        return generate

    conv = lambda: "conv-" + str(rng.randrange(50))  # noqa: E731
    return [
        make("responses_agent", lambda q, a: (responses_request(q, conversation_id=conv()), responses_agent_response(a, trace_mlflow3(q, a)))),
        make("chat_agent_tools", lambda q, a: (chat_request(q, conv()), chat_agent_response(a, trace_mlflow2(q, a)))),
        make("chat_completion", lambda q, a: (chat_request(q, with_tool_turn=True), chat_completion(a, trace_v2(q, a)))),
        make("rag_v1", lambda q, a: (rag_request(q), chat_completion(a, trace_v1(q, a)))),
        make("chat_stream", lambda q, a: (chat_request(q), chat_stream(a, trace_mlflow3(q, a)))),
        make("responses_stream", lambda q, a: (responses_request(q, as_items=False), responses_stream(a, trace_mlflow3(q, a)))),
        make("chat_agent_stream", lambda q, a: ({"dataframe_records": [chat_request(q)]}, chat_agent_stream(a))),
        make("completion", lambda q, a: ({"prompt": q, "max_tokens": 64}, {"choices": [{"text": a}]})),
        make("legacy_content", lambda q, a: ({"dataframe_split": {"columns": ["query"], "data": [[q]]}}, {"predictions": {"content": a}})),
        make("agent_error", lambda q, a: (chat_request(q), {"error_code": "INTERNAL_ERROR", "message": "tool failed"}), 500),
        make("rate_limited", lambda q, a: (chat_request(q), {"error_code": "REQUEST_LIMIT_EXCEEDED", "message": "rate limit"}), 429),
    ]


def payload_rows(rows: int, seed: int = 7, start: dt.date = dt.date(2025, 12, 1), days: int = 3,
                 feedback_share: float = 0.15, malformed_share: float = 0.02) -> list[dict]:
    """``rows`` generation-neutral rows: request id, time, status, bodies, plus a little bad
    input (truncated JSON, missing ids, duplicates, feedback in both encodings)."""
    rng = random.Random(seed)
    generators = exchanges(rng)
    out: list[dict] = []
    request_ids: list[str] = []
    for i in range(rows):
        request_id = str(uuid.UUID(int=rng.getrandbits(128)))
        when = dt.datetime.combine(start, dt.time(), dt.timezone.utc) + dt.timedelta(seconds=rng.randrange(days * 86400))
        row = {"databricks_request_id": request_id, "when": when, "status_code": 200,
               "execution_ms": rng.randrange(200, 9000)}
        roll = rng.random()
        if roll < feedback_share and request_ids:
            rated = rng.choice(request_ids)
            body = feedback_request(rated, f"reviewer{rng.randrange(5)}@company.com", rng.choice(["positive", "negative", True]),
                                    encoded=rng.random() < 0.5, retrieval=rng.random() < 0.5)
            row.update(request=json.dumps(body), response=json.dumps(FEEDBACK_RESPONSE))
        elif roll < feedback_share + malformed_share:
            kind = rng.choice(["truncated", "no_id", "duplicate"])
            exchange = rng.choice(generators)()
            row.update(request=_text(exchange.request), response=_text(exchange.response))
            if kind == "truncated":
                row["request"] = row["request"][: len(row["request"]) // 2]
            elif kind == "no_id":
                row["databricks_request_id"] = None
            elif out:
                row = dict(out[-1])
        else:
            exchange = rng.choice(generators)()
            row.update(request=_text(exchange.request), response=_text(exchange.response), status_code=exchange.status_code)
            request_ids.append(request_id)
        out.append(row)
    return out


def to_generation(row: dict, generation: PayloadGeneration) -> dict:
    """A neutral row as a row of one payload generation."""
    when: dt.datetime = row["when"]
    if generation is PayloadGeneration.LEGACY:
        return {"databricks_request_id": row["databricks_request_id"], "client_request_id": None,
                "date": when.date(), "timestamp_ms": int(when.timestamp() * 1000), "status_code": row["status_code"],
                "execution_time_ms": row["execution_ms"], "request": row["request"], "response": row["response"],
                "sampling_fraction": 1.0,
                "request_metadata": {"endpoint_name": "agents_main-docs-agent", "model_name": "main.docs.agent",
                                     "model_version": "3"}}
    return {"databricks_request_id": row["databricks_request_id"], "client_request_id": None,
            "request_date": when.date(), "request_time": when, "status_code": row["status_code"],
            "sampling_fraction": 1.0, "execution_duration_ms": row["execution_ms"], "request": row["request"],
            "response": row["response"], "served_entity_id": "docs-agent-3", "logging_error_codes": None,
            "requester": "user@company.com"}


def payload_frame(spark: SparkSession, rows: list[dict], generation: PayloadGeneration) -> DataFrame:
    schema = LEGACY_PAYLOAD if generation is PayloadGeneration.LEGACY else GATEWAY_PAYLOAD
    return spark.createDataFrame([to_generation(r, generation) for r in rows], schema)
