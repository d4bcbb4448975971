"""What the endpoint answered: the response body parsed once by its declared schema, the answer
text, the response shape, the trace as logged and its format (payload-formats.md §3 and §4).

A response body is parsed as a list of RESPONSE_ITEMs: an object body is a list of one, a
streamed body (a JSON array of chunks) a list of chunks.
"""
from pyspark.sql import Column
from pyspark.sql import functions as F

from pipelines.transforms.json_values import (
    bind,
    content_text,
    get,
    join_texts,
    last_where,
    present,
    scalar_string,
    transform_with,
)
from schemas.bodies import PARSE_OPTIONS, RESPONSE_BODY, RESPONSE_ITEM, TRACE_VERSION_KEY
from schemas.shapes import PYFUNC_PREFIX

ITEM_TYPE = RESPONSE_ITEM.simpleString()


def parse_response(raw: Column) -> Column:
    """The response body as array<RESPONSE_ITEM>; null when it is not JSON, or JSON that is
    neither an object nor a list of objects (a bare string, a number)."""
    return F.from_json(raw, RESPONSE_BODY, PARSE_OPTIONS)


#: What ``\\s`` matches in a Java regular expression.
_WHITESPACE = " \t\n\u000b\f\r"
#: Characters of a body read to find its first one that is not whitespace.
_HEAD_CHARS = 256


def is_stream(raw: Column) -> Column:
    """A body logged as a JSON array (of stream chunks): ``^\\s*\\[``. Read on the body's first
    characters: a regular expression decoded every whole body to a Java string. A body whose
    first characters are all whitespace is matched whole."""
    head = F.ltrim(F.substring(raw, 1, _HEAD_CHARS), F.lit(_WHITESPACE))
    return F.coalesce(
        F.when(head != "", head.startswith("[")).otherwise(raw.rlike(r"^\s*\[")), F.lit(False))


def bare_value(raw: Column, parsed: Column) -> Column:
    """The whole body as a VARIANT, only where from_json found no object or list of objects
    (a bare JSON string is a pyfunc answer); null elsewhere, so the common rows parse once."""
    return F.when(raw.isNotNull() & parsed.isNull(), F.try_parse_json(raw))


def prediction(body: Column) -> Column:
    """The unwrapped ``predictions`` of a pyfunc response (first element of a list) as a
    VARIANT, or null."""
    predictions = body["predictions"]
    return F.when(present(predictions), F.coalesce(get(predictions, "$[0]"), predictions))


def predicted_item(predicted: Column) -> Column:
    """A prediction read as a RESPONSE_ITEM (null when it is not an object)."""
    return F.try_variant_get(predicted, "$", ITEM_TYPE)


# --- aggregated (object) responses -------------------------------------------------------


def _output_text(items: Column) -> Column:
    """Text of the last message item of a ResponsesAgent ``output`` list."""
    return content_text(last_where(items, lambda item: item["type"] == "message")["content"])


def _chat_agent_text(messages: Column) -> Column:
    """Content of the last assistant message that has content (ChatAgent ``messages``)."""
    last_answer = last_where(
        messages,
        lambda message: (message["role"] == "assistant")
        & (F.coalesce(F.length(content_text(message["content"])), F.lit(0)) > 0),
    )
    return content_text(last_answer["content"])


def _object_answer(root: Column, root_string: Column) -> Column:
    first_choice = F.try_element_at(root["choices"], F.lit(1))
    return (
        F.when(first_choice.isNotNull(), F.coalesce(
            content_text(first_choice["message"]["content"]),
            scalar_string(first_choice["text"]),
            content_text(first_choice["delta"]["content"]),
        ))
        .when(root["output"].isNotNull(), _output_text(root["output"]))
        .when(root["messages"].isNotNull(), _chat_agent_text(root["messages"]))
        .when(present(root["content"]), content_text(root["content"]))
        .otherwise(root_string)
    )


def _object_shape(root: Column, root_string: Column) -> Column:
    first_choice = F.try_element_at(root["choices"], F.lit(1))
    return (
        F.when(first_choice["text"].isNotNull(), F.lit("completion"))
        .when(root["choices"].isNotNull(), F.lit("chat_completion"))
        .when(root["output"].isNotNull(), F.lit("responses_agent"))
        .when(root["messages"].isNotNull(), F.lit("chat_agent"))
        .when(present(root["content"]), F.lit("legacy_content"))
        .when(present(root["error_code"]) | present(root["error"]), F.lit("error"))
        .when(root_string.isNotNull(), F.lit("string"))
        .otherwise(F.lit("unknown"))
    )


# --- streamed responses (a JSON array of chunks) ------------------------------------------


def _stream_chat_text(chunks: Column) -> Column:
    return join_texts(
        F.transform(chunks, lambda c: content_text(F.try_element_at(c["choices"], F.lit(1))["delta"]["content"])), "")


def _stream_chat_agent_text(chunks: Column) -> Column:
    """Deltas of the last assistant message (by delta id) that carried text."""
    def delta_fields(chunk: Column) -> Column:
        return bind(chunk["delta"], lambda delta: F.struct(
            get(delta, "$.role", "string").alias("role"), get(delta, "$.id", "string").alias("id"),
            content_text(get(delta, "$.content")).alias("text")))

    answering = F.filter(
        F.transform(chunks, delta_fields),
        lambda d: (F.coalesce(d["role"], F.lit("assistant")) == "assistant") & (F.coalesce(F.length(d["text"]), F.lit(0)) > 0),
    )
    return bind(answering, lambda deltas: join_texts(transform_with(
        deltas, F.try_element_at(deltas, F.lit(-1))["id"],
        lambda d, last: F.when(d["id"].eqNullSafe(last), d["text"])), ""))


TEXT_DELTA, ITEM_DONE, COMPLETED = "response.output_text.delta", "response.output_item.done", "response.completed"


def _stream_responses_text(chunks: Column) -> Column:
    """The text of the last message item: its completed text when the stream closed that item,
    else its deltas. An earlier completed item never stands in for a later one cut off. A
    ``response.completed`` event that carries the whole response closes every item."""
    completed = last_where(chunks, lambda c: (c["type"] == COMPLETED) & c["response"]["output"].isNotNull())
    message_events = F.filter(
        chunks, lambda c: (c["type"] == TEXT_DELTA) | ((c["type"] == ITEM_DONE) & (c["item"]["type"] == "message")))

    def from_events(last_event: Column) -> Column:
        deltas = transform_with(
            chunks, last_event["item_id"],
            lambda c, last: F.when((c["type"] == TEXT_DELTA) & c["item_id"].eqNullSafe(last), scalar_string(c["delta"])))
        return (
            F.when(last_event["type"] == ITEM_DONE, content_text(last_event["item"]["content"]))
            .otherwise(join_texts(deltas, ""))
        )

    return bind(completed, lambda done: F.when(done.isNotNull(), _output_text(done["response"]["output"])).otherwise(
        bind(F.try_element_at(message_events, F.lit(-1)), from_events)))


def stream_kind(chunks: Column) -> Column:
    """Which kind of stream a parsed streamed body is (``stream_chat``, ``stream_responses``,
    ``stream_chat_agent``, ``stream_unknown``); null when ``chunks`` is null. Derived once per
    row as its own column: the answer and the shape both read it."""
    return (
        F.when(chunks.isNull(), F.lit(None).cast("string"))
        .when(F.exists(chunks, lambda c: c["choices"].isNotNull()), F.lit("stream_chat"))
        .when(F.exists(chunks, lambda c: F.coalesce(c["type"], F.lit("")).startswith("response.")),
              F.lit("stream_responses"))
        .when(F.exists(chunks, lambda c: c["delta"].isNotNull()), F.lit("stream_chat_agent"))
        .otherwise(F.lit("stream_unknown"))
    )


def _stream_answer(chunks: Column, kind: Column) -> Column:
    return (
        F.when(kind == "stream_chat", _stream_chat_text(chunks))
        .when(kind == "stream_responses", _stream_responses_text(chunks))
        .when(kind == "stream_chat_agent", _stream_chat_agent_text(chunks))
    )


# --- public column functions -----------------------------------------------------------


def answer(root: Column, root_string: Column, chunks: Column, kind: Column) -> Column:
    """The answer to the user. ``chunks`` is the parsed body of a streamed response (else null)
    and ``kind`` its :func:`stream_kind`; ``root`` the object body or its unwrapped prediction;
    ``root_string`` the body or prediction when it is a bare JSON string."""
    return F.when(chunks.isNotNull(), _stream_answer(chunks, kind)).otherwise(_object_answer(root, root_string))


def response_shape(root: Column, root_string: Column, kind: Column, predicted: Column) -> Column:
    """The response shape's name; ``kind`` is the :func:`stream_kind` of a streamed body."""
    shape = F.coalesce(kind, _object_shape(root, root_string))
    return F.when(predicted.isNotNull(), F.concat(F.lit(PYFUNC_PREFIX), shape)).otherwise(shape)


def _trace_of(item: Column) -> Column:
    return item["databricks_output"]["trace"]


def found_trace(body: Column, root: Column, chunks: Column) -> Column:
    """``databricks_output.trace`` as logged (JSON text): on the body, on the unwrapped
    prediction, or in whichever chunk of a stream carries it (the last)."""
    return F.coalesce(
        _trace_of(F.try_element_at(body, F.lit(1))),
        _trace_of(root),
        _trace_of(last_where(chunks, lambda c: _trace_of(c).isNotNull())),
    )


def trace_text(found: Column, keys: Column) -> Column:
    """The trace as JSON text. ``found`` is what the parser kept: the JSON text of an object (or
    array, number) as logged, or the content of a JSON-encoded string, which is the trace's
    JSON text when it holds one. A string that holds no JSON is kept as a JSON string.
    ``keys`` are the trace's top-level keys (null when it is not an object)."""
    return (
        F.when(found.isNull() | keys.isNotNull(), found)
        .when(F.try_parse_json(found).isNotNull(), found)
        .otherwise(F.to_json(F.array(found)).substr(F.lit(2), F.length(F.to_json(F.array(found))) - 2))
    )


def trace_keys(found: Column) -> Column:
    """Top-level keys of the trace; null when it is not a JSON object (values are skipped)."""
    return F.json_object_keys(found)


def trace_format(found: Column, keys: Column) -> Column:
    """The trace format of one row: '0' none, '3' MLflow trace with ``info``, the value of
    ``mlflow.trace_schema.version`` (2), '1' any other object (steps); null for a trace that
    is not a JSON object (counted as 'unrecognized')."""
    version = F.get_json_object(found, f"$['{TRACE_VERSION_KEY}']")
    return (
        F.when(found.isNull(), F.lit("0"))
        .when(keys.isNull(), F.lit(None).cast("string"))
        .when(F.array_contains(keys, "info"), F.lit("3"))
        .when(F.array_contains(keys, TRACE_VERSION_KEY), F.coalesce(version, F.lit("1")))
        .otherwise(F.lit("1"))
    )
