"""The request details of a request-logs row (schemas/request_details.py): its token usage, the
documents its trace's retrievers returned, and the tool calls of its response. Nothing is
invented: what the payload did not log is None.

Token usage is read, first found first:

1. ``response``: the response object's ``usage`` (a chat completion's ``prompt_tokens``...,
   a Responses ``input_tokens``...);
2. ``stream``: a streamed body's last chunk with usage (a chat chunk's ``usage``, or a Responses
   ``response.completed`` event's ``response.usage``);
3. ``trace``: the trace's own total, ``mlflow.trace.tokenUsage`` in ``info.trace_metadata``
   (MLflow 3) or ``info.request_metadata`` (MLflow 2);
4. ``trace_spans``: the sum of the spans' ``mlflow.chat.tokenUsage``, each count over the spans
   that logged it.

Retrieved documents: the chunks of a steps trace's retrieval steps (format 1), and the
documents of the spans whose ``mlflow.spanType`` is ``RETRIEVER`` (formats 2 and 3), in trace
order. Tool calls: the calls the response made (``tool_calls`` of its messages, Responses
``function_call`` items; in a stream, each call once).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from msgspec import Raw

from pipelines.rules.decode import Read, first_not_none, json_kind, read, value
from schemas.bodies import (
    SPAN_OUTPUTS,
    SPAN_TOKEN_USAGE,
    SPAN_TYPE,
    TRACE_TOKEN_USAGE,
    CallingMessage,
    Document,
    Span,
    TraceBody,
    Usage,
    UsageItem,
)

_INT64 = (-(2 ** 63), 2 ** 63 - 1)
RETRIEVER = "RETRIEVER"
COMPLETED = "response.completed"
ITEM_DONE = "response.output_item.done"


@dataclass(frozen=True, slots=True)
class Tokens:
    prompt: int | None
    completion: int | None
    total: int | None
    source: str | None


NO_TOKENS = Tokens(None, None, None, None)


@dataclass(frozen=True, slots=True)
class RetrievedDocument:
    doc_uri: str | None
    content: str | None
    score: float | None


def _count(number: int | None) -> int | None:
    """A count as a table keeps it (a 64-bit integer); None beyond that."""
    return number if number is None or _INT64[0] <= number <= _INT64[1] else None


def usage_tokens(usage: Usage | None, source: str) -> Tokens | None:
    """The counts of a ``usage`` object; None when it holds none."""
    if usage is None:
        return None
    found = Tokens(_count(first_not_none(usage.prompt_tokens, usage.input_tokens)),
                   _count(first_not_none(usage.completion_tokens, usage.output_tokens)),
                   _count(usage.total_tokens), source)
    return None if found.prompt is None and found.completion is None and found.total is None else found


def _item_usage(item: UsageItem | None, source: str) -> Tokens | None:
    if item is None:
        return None
    return first_not_none(usage_tokens(item.usage, source),
                          usage_tokens(item.response.usage if item.response is not None else None, source))


def response_tokens(response: Read) -> Tokens | None:
    """The token usage a response body logged (an object's, or a stream's last)."""
    body = response.value
    if isinstance(body, UsageItem):
        return _item_usage(body, "response")
    if isinstance(body, list):
        return next((found for found in (_item_usage(chunk, "stream") for chunk in reversed(body)) if found), None)
    return None


def encoded(raw: Raw | None, type_) -> Any:
    """A trace attribute or metadata value as ``type_``: MLflow logs them as JSON-encoded strings
    (``"\\"RETRIEVER\\""``); a value logged as plain JSON (or a string holding no JSON) is
    read as it is."""
    if raw is None:
        return None
    if json_kind(raw) == "string":
        text = value(raw, str)
        if text is None:
            return None
        found = read(text.encode("utf-8", errors="replace"), type_)
        # a string that holds no JSON is itself the value of a string attribute
        return found.value if found.json else text if type_ is str else None
    return value(raw, type_)


def _spans(trace: TraceBody) -> list[Span]:
    spans = trace.data.spans if trace.data is not None else trace.spans
    return [span for span in spans or () if span is not None]


def trace_tokens(trace: TraceBody | None) -> Tokens | None:
    """The token usage a trace logged: its own total, else the sum over its spans."""
    if trace is None:
        return None
    if trace.info is not None:
        for metadata in (trace.info.trace_metadata, trace.info.request_metadata):
            found = usage_tokens(encoded((metadata or {}).get(TRACE_TOKEN_USAGE), Usage), "trace")
            if found is not None:
                return found
    per_span = [usage_tokens(encoded((span.attributes or {}).get(SPAN_TOKEN_USAGE), Usage), "trace_spans")
                for span in _spans(trace)]
    per_span = [found for found in per_span if found is not None]
    if not per_span:
        return None

    def total(counts: list[int | None]) -> int | None:
        logged = [count for count in counts if count is not None]
        return _count(sum(logged)) if logged else None

    return Tokens(total([t.prompt for t in per_span]), total([t.completion for t in per_span]),
                  total([t.total for t in per_span]), "trace_spans")


def _document(found: Document | None) -> RetrievedDocument | None:
    if found is None:
        return None
    metadata = found.metadata
    return RetrievedDocument(first_not_none(found.doc_uri, metadata.doc_uri if metadata else None),
                             found.page_content, first_not_none(found.score, metadata.score if metadata else None))


def retrieved_documents(trace: TraceBody | None) -> list[RetrievedDocument] | None:
    """The documents a trace's retrievers returned, in trace order; None without a trace."""
    if trace is None:
        return None
    documents = []
    for step in trace.steps or ():
        if step is not None and step.retrieval is not None:
            documents += [RetrievedDocument(chunk.doc_uri, chunk.content, chunk.score)
                          for chunk in step.retrieval.chunks or () if chunk is not None]
    for span in _spans(trace):
        attributes = span.attributes or {}
        if encoded(attributes.get(SPAN_TYPE), str) == RETRIEVER:
            outputs = encoded(attributes.get(SPAN_OUTPUTS), list[Document]) or []
            documents += [found for found in map(_document, outputs) if found is not None]
    return documents


def read_trace_body(text: bytes | None) -> TraceBody | None:
    """A trace's JSON text as :class:`TraceBody`; None when there is none or it is no object."""
    if text is None:
        return None
    found = read(text, TraceBody).value
    return found if isinstance(found, TraceBody) else None


def _calls(message: CallingMessage | None) -> list[str | None]:
    """The ids of a message's tool calls (a Responses ``function_call`` item is one)."""
    if message is None:
        return []
    if message.type == "function_call":
        return [first_not_none(message.call_id, message.id)]
    return [call.id for call in message.tool_calls or () if call is not None]


def _object_calls(item: UsageItem) -> int:
    messages = [*(choice.message for choice in item.choices or () if choice is not None),
                *(item.messages or ()), *(item.output or ())]
    return sum(len(_calls(message)) for message in messages)


def _stream_calls(chunks: list) -> int:
    """Each call of a stream once: a completed Responses response's calls; else the ids of the
    calls its chunks carry (a streamed call sends its id with its first chunk only)."""
    chunks = [chunk for chunk in chunks if chunk is not None]
    completed = next((c for c in reversed(chunks) if c.type == COMPLETED and c.response is not None
                      and c.response.output is not None), None)
    if completed is not None:
        return sum(len(_calls(item)) for item in completed.response.output)
    ids = set()
    for chunk in chunks:
        messages = [*(choice.delta for choice in chunk.choices or () if choice is not None),
                    chunk.item if chunk.type == ITEM_DONE else None, value(chunk.delta, CallingMessage)]
        for message in messages:
            ids.update(call for call in _calls(message) if call is not None)
    return len(ids)


def tool_call_count(response: Read) -> int | None:
    """How many tool calls the response made; None when the response is not logged or not JSON."""
    if not response.json:
        return None
    body = response.value
    if isinstance(body, UsageItem):
        return _object_calls(body)
    if isinstance(body, list):
        return _stream_calls(body)
    return 0
