"""What the endpoint answered: the answer text, the response shape, the trace and its format.

All functions take the response body parsed once into a VARIANT (payload-formats.md §3 and §4).
A streamed response may be logged as an aggregated object or as a JSON array of chunks; both
are handled, with the chunks' text concatenated in order.
"""
from pyspark.sql import Column
from pyspark.sql import functions as F

from pipelines.variant_columns import (
    as_array,
    content_text,
    get,
    is_object,
    join_texts,
    last_where,
    present,
    role_of,
    scalar_string,
)

TRACE_VERSION_KEY = '$["mlflow.trace_schema.version"]'
TRACE_PATH = "$.databricks_output.trace"


def prediction(body: Column) -> Column:
    """The unwrapped ``predictions`` of a pyfunc response (first element of a list), or null."""
    predictions = get(body, "$.predictions")
    return F.when(present(predictions), F.coalesce(get(predictions, "$[0]"), predictions))


def unwrap_response(body: Column, predicted: Column) -> Column:
    return F.coalesce(predicted, body)


# --- aggregated (object) responses -------------------------------------------------------


def _responses_output_text(response: Column) -> Column:
    """Text of the last message item of a ResponsesAgent ``output`` list."""
    items = get(response, "$.output", "array<variant>")
    last_message = last_where(items, lambda item: get(item, "$.type", "string") == "message")
    return content_text(get(last_message, "$.content"))


def _chat_agent_text(messages: Column) -> Column:
    """Content of the last assistant message that has content (ChatAgent ``messages``)."""
    last_answer = last_where(
        messages,
        lambda message: (role_of(message) == "assistant")
        & (F.coalesce(F.length(content_text(get(message, "$.content"))), F.lit(0)) > 0),
    )
    return content_text(get(last_answer, "$.content"))


def _object_answer(root: Column) -> Column:
    first_choice = get(root, "$.choices[0]")
    return (
        F.when(first_choice.isNotNull(), F.coalesce(
            content_text(get(first_choice, "$.message.content")),
            scalar_string(get(first_choice, "$.text")),
            content_text(get(first_choice, "$.delta.content")),
        ))
        .when(get(root, "$.output").isNotNull(), _responses_output_text(root))
        .when(get(root, "$.messages").isNotNull(), _chat_agent_text(get(root, "$.messages", "array<variant>")))
        .when(present(get(root, "$.content")), content_text(get(root, "$.content")))
        .otherwise(scalar_string(root))
    )


def _object_shape(root: Column) -> Column:
    first_choice = get(root, "$.choices[0]")
    return (
        F.when(get(first_choice, "$.text").isNotNull(), F.lit("completion"))
        .when(get(root, "$.choices").isNotNull(), F.lit("chat_completion"))
        .when(get(root, "$.output").isNotNull(), F.lit("responses_agent"))
        .when(get(root, "$.messages").isNotNull(), F.lit("chat_agent"))
        .when(present(get(root, "$.content")), F.lit("legacy_content"))
        .when(present(get(root, "$.error_code")) | present(get(root, "$.error")), F.lit("error"))
        .when(scalar_string(root).isNotNull(), F.lit("string"))
        .otherwise(F.lit("unknown"))
    )


# --- streamed responses (a JSON array of chunks) ------------------------------------------


def _event_type(chunk: Column) -> Column:
    return get(chunk, "$.type", "string")


def _stream_chat_text(chunks: Column) -> Column:
    return join_texts(F.transform(chunks, lambda c: content_text(get(c, "$.choices[0].delta.content"))), "")


def _stream_chat_agent_text(chunks: Column) -> Column:
    """Deltas of the last assistant message (by delta id) that carried text."""
    def delta_text(chunk: Column) -> Column:
        return content_text(get(chunk, "$.delta.content"))

    answering = F.filter(
        chunks,
        lambda c: (F.coalesce(role_of(get(c, "$.delta")), F.lit("assistant")) == "assistant")
        & (F.coalesce(F.length(delta_text(c)), F.lit(0)) > 0),
    )
    last_id = get(F.try_element_at(answering, F.lit(-1)), "$.delta.id", "string")
    return join_texts(
        F.transform(F.filter(answering, lambda c: get(c, "$.delta.id", "string").eqNullSafe(last_id)), delta_text),
        "",
    )


def _stream_responses_text(chunks: Column) -> Column:
    """A completed message item if the stream has one, else the deltas of the last item."""
    completed = last_where(chunks, lambda c: _event_type(c) == "response.completed")
    done_message = last_where(
        chunks,
        lambda c: (_event_type(c) == "response.output_item.done")
        & (get(c, "$.item.type", "string") == "message"),
    )
    deltas = F.filter(chunks, lambda c: _event_type(c) == "response.output_text.delta")
    last_item = get(F.try_element_at(deltas, F.lit(-1)), "$.item_id", "string")
    return F.coalesce(
        _responses_output_text(get(completed, "$.response")),
        content_text(get(done_message, "$.item.content")),
        join_texts(
            F.transform(
                F.filter(deltas, lambda c: get(c, "$.item_id", "string").eqNullSafe(last_item)),
                lambda c: scalar_string(get(c, "$.delta")),
            ),
            "",
        ),
    )


def _stream_kind(chunks: Column) -> Column:
    return (
        F.when(F.exists(chunks, lambda c: get(c, "$.choices").isNotNull()), F.lit("stream_chat"))
        .when(F.exists(chunks, lambda c: F.coalesce(_event_type(c), F.lit("")).startswith("response.")),
              F.lit("stream_responses"))
        .when(F.exists(chunks, lambda c: get(c, "$.delta").isNotNull()), F.lit("stream_chat_agent"))
        .otherwise(F.lit("stream_unknown"))
    )


def _stream_answer(chunks: Column) -> Column:
    kind = _stream_kind(chunks)
    return (
        F.when(kind == "stream_chat", _stream_chat_text(chunks))
        .when(kind == "stream_responses", _stream_responses_text(chunks))
        .when(kind == "stream_chat_agent", _stream_chat_agent_text(chunks))
    )


# --- public column functions -----------------------------------------------------------


def answer(root: Column, chunks: Column) -> Column:
    """The answer to the user. ``chunks`` is the body as array<variant> when it was streamed as
    a list of chunks (else null); ``root`` is the unwrapped object body."""
    return F.when(chunks.isNotNull(), _stream_answer(chunks)).otherwise(_object_answer(root))


def response_shape(root: Column, chunks: Column, predicted: Column) -> Column:
    shape = F.when(chunks.isNotNull(), _stream_kind(chunks)).otherwise(_object_shape(root))
    return F.when(predicted.isNotNull(), F.concat(F.lit("pyfunc:"), shape)).otherwise(shape)


def trace_on_body(body: Column) -> Column:
    """``databricks_output.trace`` on the body itself (the first place :func:`trace_value` looks)."""
    return get(body, TRACE_PATH)


def trace_value(on_body: Column, root: Column, chunks: Column) -> Column:
    """``databricks_output.trace`` as a VARIANT: on the body (``on_body`` is
    :func:`trace_on_body`, taken early so that the whole body need not be kept), on the unwrapped
    prediction, or in whichever chunk of a stream carries it. A trace logged as a JSON-encoded
    string is decoded."""
    found = F.coalesce(
        on_body,
        get(root, TRACE_PATH),
        get(last_where(chunks, lambda c: present(get(c, TRACE_PATH))), TRACE_PATH),
    )
    decoded = F.when(_has_trace_keys(found), found).otherwise(
        F.coalesce(F.try_parse_json(scalar_string(found)), found)
    )
    return F.when(present(found), decoded)


def _has_trace_keys(trace: Column) -> Column:
    """Cheap test for an object trace: one of the keys every known format has."""
    return (
        get(trace, "$.info").isNotNull()
        | get(trace, "$.data").isNotNull()
        | get(trace, "$.spans").isNotNull()
        | get(trace, "$.steps").isNotNull()
        | get(trace, TRACE_VERSION_KEY).isNotNull()
    )


def trace_format(trace: Column) -> Column:
    """The trace format of one row: '0' none, '1' steps, '2' spans with
    mlflow.trace_schema.version 2, '3' MLflow trace with ``info``; null for a trace that is not
    a JSON object (counted as 'unrecognized')."""
    return (
        F.when(trace.isNull(), F.lit("0"))
        .when(get(trace, "$.info").isNotNull(), F.lit("3"))
        .when(get(trace, TRACE_VERSION_KEY, "string").isNotNull(), get(trace, TRACE_VERSION_KEY, "string"))
        .when(_has_trace_keys(trace) | is_object(trace), F.lit("1"))
    )


def stream_chunks(body: Column, raw: Column) -> Column:
    """The body as a list of chunks when the raw text is a JSON array, else null."""
    return F.when(raw.rlike(r"^\s*\["), as_array(body))
