"""The rules (:mod:`pipelines.rules`, plain Python) applied per Arrow batch, for
``DataFrame.mapInArrow``: each function takes the batches of a pass's frame and yields them with
the pass's derived columns added, every input column carried through unchanged.

The bodies are read straight out of the Arrow buffers (memoryviews, no Python string per
body) and decoded by msgspec; only the derived values become Python objects. A trace kept as
logged is handed back as its byte range in the response body, which Spark cuts out
(:func:`trace_column`), instead of as a copy of its text.
"""
from __future__ import annotations

from typing import Callable, Iterator

import pyarrow as pa
from pyspark.sql import Column
from pyspark.sql import functions as F
from pyspark.sql.types import (
    ArrayType,
    BooleanType,
    DataType,
    IntegerType,
    LongType,
    StringType,
    StructField,
    StructType,
)

from pipelines.rules.classify import REQUEST_LOGS, Classification, PayloadRow, classify
from pipelines.rules.decode import Read, read
from pipelines.rules.details import NO_TOKENS, read_trace_body, response_tokens, retrieved_documents, tool_call_count, trace_tokens
from pipelines.rules.feedback import assessment_rows, feedback_records
from pipelines.rules.request import user_query
from pipelines.rules.response import response_fields
from schemas.assessment_logs import ASSESSMENT_LOGS
from schemas.bodies import RESPONSE_BODY, USAGE_BODY, RequestBody
from schemas.reasons import reason_detail
from schemas.request_details import RETRIEVED_DOCUMENT

_DAY_MICROS = 86_400_000_000

#: Classification columns every pass adds.
CLASSIFIED = [
    StructField("destination", StringType()),
    StructField("reason", StringType()),
    StructField("is_feedback", BooleanType()),
    StructField("assessment_count", IntegerType()),
]

#: Columns the request-logs pass adds (``_trace_*``: where :func:`trace_column` finds the trace),
#: beside the classification.
REQUEST_LOG_DERIVED = [
    StructField("conversation_id", StringType()),
    StructField("request", StringType()),
    StructField("response", StringType()),
    StructField("request_shape", StringType()),
    StructField("response_shape", StringType()),
    StructField("schema_version", StringType()),
    StructField("_trace_start", IntegerType()),
    StructField("_trace_length", IntegerType()),
    StructField("_trace_text", StringType()),
]
REQUEST_LOG_FIELDS = [*CLASSIFIED, *REQUEST_LOG_DERIVED]

#: Columns the request-details pass adds beside the classification.
DETAIL_DERIVED = [
    StructField("prompt_tokens", LongType()),
    StructField("completion_tokens", LongType()),
    StructField("total_tokens", LongType()),
    StructField("token_usage_source", StringType()),
    StructField("retrieved_documents", ArrayType(RETRIEVED_DOCUMENT)),
    StructField("tool_calls", IntegerType()),
]
DETAIL_FIELDS = [*CLASSIFIED, *DETAIL_DERIVED]

#: One assessment as carried per feedback row, before the row's timestamp is added.
ASSESSMENT_ITEM = StructType([field for field in ASSESSMENT_LOGS.fields if field.name != "timestamp"])

#: Columns the assessment-logs pass adds.
ASSESSMENT_FIELDS = [*CLASSIFIED, StructField("assessments", ArrayType(ASSESSMENT_ITEM))]

#: Columns the quarantine pass adds.
QUARANTINE_FIELDS = [*CLASSIFIED, StructField("reason_detail", StringType())]


def with_fields(schema: StructType, fields: list[StructField]) -> StructType:
    """The output schema of a pass's ``mapInArrow``: its input columns, then ``fields``."""
    return StructType([*schema.fields, *fields])


# --- reading a batch --------------------------------------------------------------------------


def body_views(column: pa.Array) -> list[memoryview | None]:
    """Each value of a string column as a memoryview of the column's own bytes (None for null)."""
    if isinstance(column, pa.ChunkedArray):
        column = column.combine_chunks()
    count = len(column)
    _, offsets_buffer, data = column.buffers()
    width = pa.int64() if pa.types.is_large_string(column.type) else pa.int32()
    offsets = pa.Array.from_buffers(width, count + 1, [None, offsets_buffer], offset=column.offset).to_pylist()
    view = memoryview(data) if data is not None else memoryview(b"")
    valid = column.is_valid().to_pylist() if column.null_count else [True] * count
    return [view[offsets[i]:offsets[i + 1]] if valid[i] else None for i in range(count)]


def _days(column: pa.Array, divisor: int) -> list[int | None]:
    """A date (days) or timestamp (microseconds) column as whole UTC days since 1970-01-01."""
    integers = column.cast(pa.int32() if pa.types.is_date32(column.type) else pa.int64()).to_pylist()
    return [None if value is None else value // divisor for value in integers]


def payload_rows(batch: pa.RecordBatch) -> list[PayloadRow]:
    """The narrow columns of a normalized batch, as the classification reads them."""
    ids = batch.column("databricks_request_id").to_pylist()
    statuses = batch.column("status_code").to_pylist()
    raw_statuses = batch.column("status_code_raw").to_pylist()
    days = _days(batch.column("timestamp"), _DAY_MICROS)
    dates = _days(batch.column("date"), 1)
    return [PayloadRow(ids[i], days[i] is not None, statuses[i], raw_statuses[i], days[i], dates[i])
            for i in range(batch.num_rows)]


# --- writing a batch --------------------------------------------------------------------------


def _arrow_type(data_type: DataType, like: pa.DataType) -> pa.DataType:
    from pyspark.sql.pandas.types import to_arrow_type

    arrow = to_arrow_type(data_type)
    if pa.types.is_string(arrow) and pa.types.is_large_string(like):
        return pa.large_string()   # the session sends large strings: answer in kind
    return arrow


def _output(batch: pa.RecordBatch, fields: list[StructField], columns: dict[str, list]) -> pa.RecordBatch:
    like = next((f.type for f in batch.schema if pa.types.is_string(f.type) or pa.types.is_large_string(f.type)),
                pa.string())
    added = [pa.array(columns[field.name], _arrow_type(field.dataType, like)) for field in fields]
    return pa.RecordBatch.from_arrays([*batch.columns, *added], names=[*batch.schema.names, *(f.name for f in fields)])


def _per_batch(derive: Callable[[pa.RecordBatch], dict[str, list]], fields: list[StructField]):
    def apply(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        for batch in batches:
            yield _output(batch, fields, derive(batch))
    return apply


def _classified(batch: pa.RecordBatch) -> tuple[list[Read], list[Classification], dict[str, list]]:
    """Each row's request as read, its classification, and the classification columns."""
    requests = [read(body, RequestBody) for body in body_views(batch.column("request_raw"))]
    found = [classify(row, request) for row, request in zip(payload_rows(batch), requests)]
    return requests, found, {"destination": [c.destination for c in found], "reason": [c.reason for c in found],
                             "is_feedback": [c.is_feedback for c in found],
                             "assessment_count": [c.assessment_count for c in found]}


# --- the passes --------------------------------------------------------------------------------


def _trace_range(trace, body: memoryview | None) -> tuple[int, int] | None:
    """Where a trace kept as logged lies in its response body: (1-based start, length) in bytes;
    None when it is not a slice of that body (a repaired body)."""
    if trace.logged is None or body is None:
        return None
    view = memoryview(trace.logged)
    start = _address(view) - _address(body) if view.nbytes else -1
    if 0 <= start and start + view.nbytes <= body.nbytes:
        return start + 1, view.nbytes
    return None


def _of_request_logs(found: list[Classification], fields: list[StructField], derive, *items) -> dict[str, list]:
    """The columns ``fields`` of a batch: ``derive(*item)`` (their values, in order) for each
    request-logs row, None for every other row. ``items``: one list per argument of ``derive``."""
    names = [field.name for field in fields]
    none = (None,) * len(names)
    rows = [derive(*item) if classification.destination == REQUEST_LOGS else none
            for classification, *item in zip(found, *items)]
    return {name: [row[i] for row in rows] for i, name in enumerate(names)}


def _request_log_values(request: Read, body: memoryview | None) -> tuple:
    query = user_query(request)
    answer, trace = response_fields(read(body, RESPONSE_BODY))
    span = _trace_range(trace, body)
    return (query.conversation_id, query.text, answer.text, query.shape, answer.shape, trace.format,
            span[0] if span else None, span[1] if span else None, None if span else trace.text)


def _request_log_columns(batch: pa.RecordBatch) -> dict[str, list]:
    requests, found, columns = _classified(batch)
    return {**columns, **_of_request_logs(found, REQUEST_LOG_DERIVED, _request_log_values,
                                          requests, body_views(batch.column("response_raw")))}


def _address(view: memoryview | None) -> int:
    """Where a buffer's bytes are in memory (0 for none)."""
    return pa.py_buffer(view).address if view is not None and view.nbytes else 0


def _assessment_columns(batch: pa.RecordBatch) -> dict[str, list]:
    requests, found, columns = _classified(batch)
    columns["assessments"] = [assessment_rows(feedback_records(request.value)) if c.destination == "assessment_logs" else None
                              for c, request in zip(found, requests)]
    return columns


def _quarantine_columns(batch: pa.RecordBatch) -> dict[str, list]:
    _, _, columns = _classified(batch)
    columns["reason_detail"] = [reason_detail(reason) for reason in columns["reason"]]
    return columns


def _trace_text(trace) -> bytes | memoryview | None:
    """The JSON text of a response's trace (as logged, or a JSON-encoded string's content)."""
    if trace.decoded is not None:
        return trace.decoded.encode("utf-8", errors="replace")
    return None if trace.logged is None else memoryview(trace.logged)


def _detail_values(body: memoryview | None) -> tuple:
    _, trace = response_fields(read(body, RESPONSE_BODY))
    trace_body = read_trace_body(_trace_text(trace))
    response = read(body, USAGE_BODY)
    tokens = response_tokens(response) or trace_tokens(trace_body) or NO_TOKENS
    documents = retrieved_documents(trace_body)
    return (tokens.prompt, tokens.completion, tokens.total, tokens.source,
            None if documents is None else [{"doc_uri": d.doc_uri, "content": d.content, "score": d.score}
                                            for d in documents],
            tool_call_count(response))


def _detail_columns(batch: pa.RecordBatch) -> dict[str, list]:
    _, found, columns = _classified(batch)
    return {**columns, **_of_request_logs(found, DETAIL_DERIVED, _detail_values,
                                          body_views(batch.column("response_raw")))}


#: mapInArrow functions of the passes.
request_log_batches = _per_batch(_request_log_columns, REQUEST_LOG_FIELDS)
request_detail_batches = _per_batch(_detail_columns, DETAIL_FIELDS)
assessment_batches = _per_batch(_assessment_columns, ASSESSMENT_FIELDS)
quarantine_batches = _per_batch(_quarantine_columns, QUARANTINE_FIELDS)


def trace_column() -> Column:
    """The trace: the byte range of the response body the rules found it in, or the text they
    gave (a JSON-encoded string trace decoded, or a repaired body's)."""
    cut = F.expr("CAST(substring(CAST(response_raw AS BINARY), _trace_start, _trace_length) AS STRING)")
    return F.when(F.col("_trace_start").isNotNull(), cut).otherwise(F.col("_trace_text"))
