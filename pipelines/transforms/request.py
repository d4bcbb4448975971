"""What the user asked: the request body parsed once by its declared schema, the last user
query, the request shape and the conversation id (payload-formats.md §2).

The fields are derived in steps (:func:`request_field_steps`), each a set of columns that the
next steps read by name, so that every value is computed once per row."""
from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from pipelines.transforms.columns import built_once, with_steps
from pipelines.transforms.json_values import (
    CONTENT,
    SCALAR,
    STRINGS,
    as_array,
    get,
    kind,
    last_where,
    present,
    role_of,
    text_of,
)
from schemas.bodies import CORRUPT_RECORD, PARSE_OPTIONS, REQUEST_BODY, REQUEST_RECORD
from schemas.shapes import PYFUNC_PREFIX

RECORD_TYPE = REQUEST_RECORD.simpleString()

#: The record fields the query, shape and conversation id are read from.
CONVERSATION_FIELDS = ("messages", "input", "query", "prompt", "databricks_options", "context")


def parse_request(raw: Column) -> Column:
    """The request body as a REQUEST_BODY struct (null when the text is null or empty)."""
    return F.from_json(raw, REQUEST_BODY, PARSE_OPTIONS)


def is_json(raw: Column, parsed: Column) -> Column:
    """Whether a body parsed with from_json was valid JSON. A record from_json could not read
    whole (``_corrupt_record`` set) is invalid JSON, or valid JSON of another shape (a field of
    another type, a scalar, an array): only those rare rows are parsed again to tell which."""
    return (
        F.when(raw.isNull() | parsed.isNull(), F.lit(False))
        .when(parsed[CORRUPT_RECORD].isNull(), F.lit(True))
        .otherwise(F.try_parse_json(raw).isNotNull())
    )


def _record_from(value: Column) -> Column:
    """An open (VARIANT) value read as a REQUEST_RECORD; null when it is not an object."""
    return F.try_variant_get(value, "$", RECORD_TYPE)


def _split_record(body: Column) -> Column:
    """First row of a pyfunc ``dataframe_split`` ({columns, data}) as a record, when well formed."""
    columns = body["dataframe_split"]["columns"]
    first_row = F.try_element_at(body["dataframe_split"]["data"], F.lit(1))
    well_formed = (
        (F.size(columns) == F.size(first_row))
        & (F.size(F.array_distinct(columns)) == F.size(columns))
        & ~F.exists(columns, lambda name: name.isNull())
    )
    return F.when(well_formed, _record_from(F.to_variant_object(F.map_from_arrays(columns, first_row))))


def _inputs_record(body: Column) -> Column:
    inputs = body["inputs"]
    as_object = F.when(
        get(inputs, "$.messages").isNotNull() | get(inputs, "$.query").isNotNull()
        | get(inputs, "$.input").isNotNull() | get(inputs, "$.prompt").isNotNull(),
        _record_from(inputs),
    )
    return F.coalesce(_record_from(get(inputs, "$[0]")), as_object)


def pyfunc_record(body: Column) -> Column:
    """The first record of a pyfunc wrapper (dataframe_records, dataframe_split, inputs,
    instances), or null when the body is not wrapped."""
    wrapped = (body["dataframe_records"].isNotNull() | body["dataframe_split"].isNotNull()
               | body["inputs"].isNotNull() | body["instances"].isNotNull())
    return F.when(wrapped, F.coalesce(
        F.try_element_at(body["dataframe_records"], F.lit(1)),
        _split_record(body),
        _inputs_record(body),
        F.try_element_at(body["instances"], F.lit(1)),
    ))


def _is_user_input_item(item: Column) -> Column:
    item_type = get(item, "$.type", "string")
    return (role_of(item) == "user") & (item_type.isNull() | (item_type == "message"))


def conversation_id(body: Column, record: Column) -> Column:
    """databricks_options.conversation_id, else context.conversation_id, on the body or on its
    pyfunc ``record``."""
    return F.coalesce(
        body["databricks_options"]["conversation_id"],
        body["context"]["conversation_id"],
        record["databricks_options"]["conversation_id"],
        record["context"]["conversation_id"],
    )


#: Where the query comes from, in order: (shape, how its value is read as text).
_QUERY_SOURCES = {
    "chat_messages": CONTENT,       # the content of the last message whose role is user
    "responses_input": CONTENT,     # the content of the last user item of ``input``
    "embeddings_input": STRINGS,    # ``input`` as a list (of strings)
    "input_text": SCALAR,           # ``input`` as a string
    "rag_query": CONTENT,           # ``query``
    "completion_prompt": STRINGS,   # ``prompt``: a string or a list of strings
}


@built_once
def request_field_steps() -> list[dict[str, Column]]:
    """Steps from ``request_body`` (the parsed request) to ``request`` (the last user query),
    ``request_shape`` (without the not-logged/not-JSON cases, see the caller) and
    ``conversation_id``. Intermediate columns start with ``_rq_``."""
    body, record = F.col("request_body"), F.col("_rq_record")
    messages, value_input, items = F.col("_rq_messages"), F.col("_rq_input"), F.col("_rq_items")
    shape, value, value_kind = F.col("_rq_shape"), F.col("_rq_value"), F.col("_rq_kind")

    def own_or_wrapped(name: str) -> Column:
        return F.when(record.isNull(), body[name]).otherwise(record[name])

    def source(shape_name: str) -> Column:
        return {
            "chat_messages": last_where(messages, lambda m: m["role"] == "user")["content"],
            "responses_input": get(last_where(items, _is_user_input_item), "$.content"),
            "embeddings_input": value_input, "input_text": value_input,
            "rag_query": F.col("_rq_query"), "completion_prompt": F.col("_rq_prompt"),
        }[shape_name]

    shapes = (
        F.when(messages.isNotNull(), F.lit("chat_messages"))
        .when(items.isNotNull() & F.exists(items, lambda item: role_of(item).isNotNull()), F.lit("responses_input"))
        .when(items.isNotNull(), F.lit("embeddings_input"))
        .when(present(value_input), F.lit("input_text"))
        .when(present(F.col("_rq_query")), F.lit("rag_query"))
        .when(present(F.col("_rq_prompt")), F.lit("completion_prompt"))
        .otherwise(F.lit("unknown"))
    )
    chosen = None
    for name in _QUERY_SOURCES:
        chosen = (F.when if chosen is None else chosen.when)(shape == name, source(name))
    text = None
    for name, how in _QUERY_SOURCES.items():
        text = (F.when if text is None else text.when)(shape == name, text_of(value, value_kind, how))
    return [
        {"_rq_record": pyfunc_record(body)},
        {"_rq_messages": own_or_wrapped("messages"), "_rq_input": own_or_wrapped("input"),
         "_rq_query": own_or_wrapped("query"), "_rq_prompt": own_or_wrapped("prompt"),
         "conversation_id": conversation_id(body, record)},
        {"_rq_items": F.when(value_input.isNotNull(), as_array(value_input))},
        {"_rq_shape": shapes},
        {"_rq_value": chosen},
        {"_rq_kind": kind(value)},
        {"request": text,
         "request_shape": F.when(record.isNotNull(), F.concat(F.lit(PYFUNC_PREFIX), shape)).otherwise(shape)},
    ]


REQUEST_FIELD_SCRATCH = ("_rq_record", "_rq_messages", "_rq_input", "_rq_query", "_rq_prompt", "_rq_items",
                         "_rq_shape", "_rq_value", "_rq_kind")


def with_request_fields(df: DataFrame) -> DataFrame:
    """``df`` (with ``request_body``) plus ``request``, ``request_shape`` and ``conversation_id``."""
    return with_steps(df, request_field_steps()).drop(*REQUEST_FIELD_SCRATCH)
