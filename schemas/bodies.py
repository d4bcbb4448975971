"""The JSON shapes the rules read (docs/payload-formats.md), declared once as msgspec Structs.

A body is decoded once into exactly these fields; the decoder skips everything else without
building it. Each field is one of two kinds:

- typed (``str``, a Struct, a list of Structs): read when the JSON value has that type, null
  otherwise (the rest of the body is still read: :mod:`pipelines.rules.decode`);
- ``msgspec.Raw``: a part kept as the JSON text it was logged with, decoded only where a rule
  reads it, by one of the open-part types below (:data:`CONTENT`, :data:`STRINGS`, ...). Open
  parts are parts whose JSON type varies (a message ``content`` is a string, a list of parts or
  one part) or that are kept verbatim (the trace).

A Raw field is ``None`` when the key is absent; JSON ``null`` is kept as the text ``null``.
"""
from __future__ import annotations

import msgspec
from msgspec import Raw, Struct


class Body(Struct, gc=False):
    """Base of the declared shapes. Decoded bodies hold no reference cycles, so they are not
    tracked by Python's garbage collector (tracked, the many small objects of a batch made
    collections a third of the decoding time)."""


class Options(Body):
    """``databricks_options`` or ``context`` of a request."""
    conversation_id: str | None = None


class Message(Body):
    """A chat message, a ChatAgent message, a ResponsesAgent input or output item, or the delta of
    a streamed chunk."""
    id: str | None = None
    type: str | None = None
    role: str | None = None
    content: Raw = None


class RequestRecord(Body):
    """The object that holds a conversation, its options and (on feedback rows) the ratings: a
    request body itself, or the first record of a pyfunc wrapper."""
    messages: list[Message] | None = None
    input: Raw = None           # a string, a list of items, or a list of strings (embeddings)
    query: Raw = None
    prompt: Raw = None          # a string or a list of strings
    databricks_options: Options | None = None
    context: Options | None = None
    # feedback records (the review app's feedback model)
    request_id: str | None = None
    step_id: str | None = None
    source: Raw = None          # an object, or a JSON-encoded string of one
    text_assessments: Raw = None       # a list or an object, or a JSON-encoded string of one
    retrieval_assessments: Raw = None


class DataframeSplit(Body):
    """pyfunc ``dataframe_split``: column names and rows of values."""
    columns: list[str | None] | None = None
    data: list[list[Raw]] | None = None


class RequestBody(RequestRecord):
    """A request body: the record fields, and the pyfunc wrappers around a record."""
    dataframe_records: list[RequestRecord] | None = None
    dataframe_split: DataframeSplit | None = None
    inputs: Raw = None          # a list of records, or one record object
    instances: list[RequestRecord] | None = None


class Choice(Body):
    message: Message | None = None
    text: Raw = None
    delta: Message | None = None


class ResponseOutput(Body):
    """The ``response`` of a ResponsesAgent ``response.completed`` stream event."""
    output: list[Message] | None = None


class DatabricksOutput(Body):
    trace: Raw = None           # kept as logged


class ResponseItem(Body):
    """A response object, or one chunk of a streamed response (a JSON array of chunks): object
    fields and chunk fields together."""
    choices: list[Choice] | None = None
    output: list[Message] | None = None     # ResponsesAgent output items
    messages: list[Message] | None = None   # ChatAgent messages
    content: Raw = None                     # legacy string answer
    error_code: Raw = None
    error: Raw = None
    predictions: Raw = None                 # pyfunc: unwrapped, then read as a ResponseItem
    # stream chunks
    type: str | None = None                 # Responses event type
    delta: Raw = None                       # Responses text delta (a string), ChatAgent delta (a Message)
    item_id: str | None = None
    item: Message | None = None
    response: ResponseOutput | None = None
    databricks_output: DatabricksOutput | None = None


#: A response body: an object, a streamed body (a JSON array of chunks), or a bare string (a
#: pyfunc answer).
RESPONSE_BODY = ResponseItem | list[ResponseItem] | str

TRACE_VERSION_KEY = "mlflow.trace_schema.version"


class TraceHead(Body):
    """The top-level keys of a trace object that tell its format."""
    info: Raw = None
    version: Raw = msgspec.field(default=None, name=TRACE_VERSION_KEY)


# --- open parts: how a Raw part is decoded where a rule reads it --------------------------------


class ContentPart(Body):
    """One part of a message content (``{type, text}``; parts without text, images say, have none)."""
    text: str | None = None


#: A message ``content``: a string, a list of parts (or strings), or one part.
CONTENT = str | list[ContentPart | str] | ContentPart
#: A prompt or an embeddings input: a string, or a list of strings.
STRINGS = str | list[str]
#: A ResponsesAgent ``input`` list: items, or strings (an embeddings batch).
INPUT_ITEMS = list[Message | str]
#: A pyfunc ``inputs``: one record object, or a list of them.
RECORDS = RequestRecord | list[RequestRecord]
#: A pyfunc ``predictions``: a response object or a string, or a list whose first element is one.
PREDICTION = ResponseItem | str | list[Raw]
#: A ChatAgent stream's ``delta`` (a message) or a Responses stream's (a string).
DELTA = Message | str


class Rating(Body):
    value: Raw = None
    rationale: str | None = None


class TextAssessment(Body):
    step_id: str | None = None
    ratings: dict[str, Raw] | None = None
    free_text_comment: str | None = None
    suggested_output: str | None = None


class RetrievalAssessment(Body):
    position: int | None = None
    step_id: str | None = None
    ratings: dict[str, Raw] | None = None
    free_text_comment: str | None = None


class Source(Body):
    type: str | None = None
    id: str | None = None
    tags: dict[str, str | None] | None = None


#: What a feedback part (``source``, ``text_assessments``, ``retrieval_assessments``) holds once a
#: JSON-encoded string is decoded: a list of objects, or one object (a list of one).
ASSESSMENTS = list[Raw] | dict[str, Raw]

#: What the decoder reads, and what it does not (pinned by tests from both sides).
DECODER_LIMITS = {
    # JSON nested up to this many levels (objects and arrays) is always read; deeper JSON is read
    # until the interpreter's recursion limit (about 1,000 levels on CPython), beyond which the
    # body is read as not JSON.
    "nesting_depth": 500,
    # A number the rules read as a number (a rating's double_value, a retrieval position) is null
    # beyond this many digits (Python's limit on converting text to an integer) or beyond the
    # range of a double. A number anywhere else is skipped whatever its size.
    "number_digits": 4_300,
}


def decoder_limits_text() -> str:
    """The limits in words, for the docs and the quarantine reasons."""
    return (f"nested deeper than the interpreter's recursion limit (about 1,000 levels; up to "
            f"{DECODER_LIMITS['nesting_depth']} levels is always read)")


# --- request details: token usage, tool calls, traces ------------------------------------------


class Usage(Body):
    """Token usage: a chat completion's (``prompt_tokens``...), a Responses or MLflow one
    (``input_tokens``...)."""
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    input_tokens: int | None = None
    output_tokens: int | None = None
    total_tokens: int | None = None


class ToolCall(Body):
    id: str | None = None


class CallingMessage(Body):
    """A message or output item, for its tool calls (``tool_calls``, or a Responses item of type
    ``function_call``)."""
    id: str | None = None
    type: str | None = None
    call_id: str | None = None
    tool_calls: list[ToolCall] | None = None


class CallingChoice(Body):
    message: CallingMessage | None = None
    delta: CallingMessage | None = None


class UsageOutput(Body):
    """The ``response`` of a Responses ``response.completed`` event."""
    output: list[CallingMessage] | None = None
    usage: Usage | None = None


class UsageItem(Body):
    """A response object or one stream chunk, for its token usage and tool calls."""
    usage: Usage | None = None
    choices: list[CallingChoice] | None = None
    messages: list[CallingMessage] | None = None
    output: list[CallingMessage] | None = None
    type: str | None = None
    item: CallingMessage | None = None
    delta: Raw = None                       # a ChatAgent delta (a message) or a Responses text delta
    response: UsageOutput | None = None


#: A response body as the request details read it.
USAGE_BODY = UsageItem | list[UsageItem] | str


class Chunk(Body):
    """A retrieved chunk of a steps trace (format 1)."""
    doc_uri: str | None = None
    content: str | None = None
    score: float | None = None


class Retrieval(Body):
    chunks: list[Chunk] | None = None


class Step(Body):
    type: str | None = None
    retrieval: Retrieval | None = None


class Span(Body):
    """A span of a spans trace (format 2) or an MLflow trace (3): its attributes are JSON-encoded
    values (``mlflow.spanType``, ``mlflow.spanOutputs``, ``mlflow.chat.tokenUsage``)."""
    attributes: dict[str, Raw] | None = None


class TraceData(Body):
    spans: list[Span] | None = None


class TraceInfo(Body):
    trace_metadata: dict[str, Raw] | None = None     # MLflow 3
    request_metadata: dict[str, Raw] | None = None   # MLflow 2


class TraceBody(Body):
    """A trace of any format, for its retrieved documents and token usage."""
    steps: list[Step] | None = None
    spans: list[Span] | None = None
    info: TraceInfo | None = None
    data: TraceData | None = None


class DocumentMetadata(Body):
    doc_uri: str | None = None
    score: float | None = None


class Document(Body):
    """A document a RETRIEVER span returned (MLflow's ``Document``)."""
    page_content: str | None = None
    metadata: DocumentMetadata | None = None
    score: float | None = None
    doc_uri: str | None = None


#: The keys of the span attributes and trace metadata the request details read.
SPAN_TYPE, SPAN_OUTPUTS = "mlflow.spanType", "mlflow.spanOutputs"
SPAN_TOKEN_USAGE, TRACE_TOKEN_USAGE = "mlflow.chat.tokenUsage", "mlflow.trace.tokenUsage"
