"""What the endpoint answered: the response body parsed once by its declared schema, the answer
text, the response shape, the trace as logged and its format (payload-formats.md §3 and §4).

A response body is parsed as a list of RESPONSE_ITEMs: an object body is a list of one, a
streamed body (a JSON array of chunks) a list of chunks. The fields are derived in steps
(:func:`response_field_steps`), each a set of columns the next steps read by name, so that every
value (the parsed body, the unwrapped prediction, the answer's part, the trace's keys) is
computed once per row.
"""
from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from pipelines.transforms.columns import built_once, with_steps
from pipelines.transforms.json_values import (
    CONTENT,
    bind,
    content_text,
    get,
    join_texts,
    kind,
    last_where,
    present,
    scalar_string,
    text_of,
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


def prediction(item: Column) -> Column:
    """The unwrapped ``predictions`` of a pyfunc response (first element of a list) as a
    VARIANT, or null."""
    predictions = item["predictions"]
    return F.when(present(predictions), F.coalesce(get(predictions, "$[0]"), predictions))


def predicted_item(predicted: Column) -> Column:
    """A prediction read as a RESPONSE_ITEM (null when it is not an object)."""
    return F.try_variant_get(predicted, "$", ITEM_TYPE)


# --- aggregated (object) responses -------------------------------------------------------


def _output_message(items: Column) -> Column:
    """The last message item of a ResponsesAgent ``output`` list."""
    return last_where(items, lambda item: item["type"] == "message")


def _output_text(items: Column) -> Column:
    """Text of the last message item of a ResponsesAgent ``output`` list."""
    return content_text(_output_message(items)["content"])


def _chat_agent_message(messages: Column) -> Column:
    """The last assistant message that has content (ChatAgent ``messages``)."""
    return last_where(
        messages,
        lambda message: (message["role"] == "assistant")
        & (F.coalesce(F.length(content_text(message["content"])), F.lit(0)) > 0),
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


# --- the steps ---------------------------------------------------------------------------


def _trace_of(item: Column) -> Column:
    return item["databricks_output"]["trace"]


def trace_text(found: Column, keys: Column) -> Column:
    """The trace as JSON text. ``found`` is what the parser kept: the JSON text of an object (or
    array, number) as logged, or the content of a JSON-encoded string, which is the trace's
    JSON text when it holds one. A string that holds no JSON is kept as a JSON string.
    ``keys`` are the trace's top-level keys (null when it is not an object)."""
    quoted = F.to_json(F.array(found))
    return (
        F.when(found.isNull() | keys.isNotNull(), found)
        .when(F.try_parse_json(found).isNotNull(), found)
        .otherwise(quoted.substr(F.lit(2), F.length(quoted) - 2))
    )


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


#: Where an object answer's text comes from (the first that applies).
_CHOICE, _OUTPUT, _MESSAGES, _CONTENT = "choice", "output", "messages", "content"


@built_once
def response_field_steps() -> list[dict[str, Column]]:
    """Steps from ``response_raw`` to ``response`` (the answer), ``response_shape`` (without the
    not-logged/not-JSON cases, see the caller), ``trace``, ``schema_version`` and
    ``response_parsed`` (whether the body was JSON). Intermediate columns start with ``_rs_``."""
    raw, body, stream = F.col("response_raw"), F.col("_rs_body"), F.col("_rs_stream")
    item, chunks, bare, predicted = F.col("_rs_item"), F.col("_rs_chunks"), F.col("_rs_bare"), F.col("_rs_predicted")
    root, root_string, stream_kind_ = F.col("_rs_root"), F.col("_rs_root_string"), F.col("_rs_stream_kind")
    source, value, value_kind = F.col("_rs_source"), F.col("_rs_value"), F.col("_rs_kind")
    found, keys = F.col("_rs_trace"), F.col("_rs_trace_keys")
    first_choice = F.try_element_at(root["choices"], F.lit(1))
    object_shape = _object_shape(root, root_string)
    shape = F.coalesce(stream_kind_, object_shape)
    object_answer = (
        F.when(source == _CHOICE, F.coalesce(text_of(value, value_kind, CONTENT), scalar_string(first_choice["text"]),
                                             content_text(first_choice["delta"]["content"])))
        .when(source.isNotNull(), text_of(value, value_kind, CONTENT))
        .otherwise(root_string)
    )
    return [
        {"_rs_body": parse_response(raw), "_rs_stream": is_stream(raw)},
        {"_rs_item": F.when(~stream, F.try_element_at(body, F.lit(1))), "_rs_chunks": F.when(stream, body),
         "_rs_bare": bare_value(raw, body)},
        {"_rs_predicted": prediction(item), "_rs_stream_kind": stream_kind(chunks),
         "response_parsed": body.isNotNull() | bare.isNotNull()},
        {"_rs_root": F.when(predicted.isNotNull(), predicted_item(predicted)).otherwise(item),
         "_rs_root_string": F.coalesce(scalar_string(predicted), scalar_string(bare))},
        {"_rs_source": (F.when(first_choice.isNotNull(), F.lit(_CHOICE)).when(root["output"].isNotNull(), F.lit(_OUTPUT))
                        .when(root["messages"].isNotNull(), F.lit(_MESSAGES))
                        .when(present(root["content"]), F.lit(_CONTENT))),
         # on the body, on the unwrapped prediction, or in the last chunk of a stream that carries one
         "_rs_trace": F.coalesce(_trace_of(item), _trace_of(root),
                                 _trace_of(last_where(chunks, lambda c: _trace_of(c).isNotNull())))},
        {"_rs_value": (F.when(source == _CHOICE, first_choice["message"]["content"])
                       .when(source == _OUTPUT, _output_message(root["output"])["content"])
                       .when(source == _MESSAGES, _chat_agent_message(root["messages"])["content"])
                       .when(source == _CONTENT, root["content"])),
         "_rs_trace_keys": F.json_object_keys(found)},
        {"_rs_kind": kind(value)},
        {"response": F.when(chunks.isNotNull(), _stream_answer(chunks, stream_kind_)).otherwise(object_answer),
         "response_shape": F.when(predicted.isNotNull(), F.concat(F.lit(PYFUNC_PREFIX), shape)).otherwise(shape),
         "trace": trace_text(found, keys), "schema_version": trace_format(found, keys)},
    ]


RESPONSE_FIELD_SCRATCH = ("_rs_body", "_rs_stream", "_rs_item", "_rs_chunks", "_rs_bare", "_rs_predicted",
                          "_rs_stream_kind", "_rs_root", "_rs_root_string", "_rs_source", "_rs_value", "_rs_kind",
                          "_rs_trace", "_rs_trace_keys")


def with_response_fields(df: DataFrame) -> DataFrame:
    """``df`` (with ``response_raw``) plus ``response``, ``response_shape``, ``trace``,
    ``schema_version`` and ``response_parsed``."""
    return with_steps(df, response_field_steps()).drop(*RESPONSE_FIELD_SCRATCH)
