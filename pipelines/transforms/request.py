"""What the user asked: the request body parsed once by its declared schema, the last user
query, the request shape and the conversation id (payload-formats.md §2)."""
from pyspark.sql import Column
from pyspark.sql import functions as F

from pipelines.transforms.json_values import (
    as_array,
    bind,
    content_text,
    get,
    join_texts,
    last_where,
    present,
    role_of,
    scalar_string,
    strings_or_text,
)
from schemas.bodies import CORRUPT_RECORD, PARSE_OPTIONS, REQUEST_BODY, REQUEST_RECORD
from schemas.shapes import PYFUNC_PREFIX

RECORD_TYPE = REQUEST_RECORD.simpleString()


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
    return F.coalesce(
        F.try_element_at(body["dataframe_records"], F.lit(1)),
        _split_record(body),
        _inputs_record(body),
        F.try_element_at(body["instances"], F.lit(1)),
    )


def unwrap_request(body: Column, record: Column) -> Column:
    """The record that holds the conversation: the pyfunc record, else the body's own fields."""
    own = F.struct(*[body[name].alias(name) for name in REQUEST_RECORD.fieldNames()])
    return F.when(record.isNotNull(), record).otherwise(own)


def _user_input_items(items: Column) -> Column:
    return F.exists(items, lambda item: role_of(item).isNotNull())


def _last_user_input_item(items: Column) -> Column:
    def is_user_message(item: Column) -> Column:
        item_type = get(item, "$.type", "string")
        return (role_of(item) == "user") & (item_type.isNull() | (item_type == "message"))

    return last_where(items, is_user_message)


def request_shape(root: Column, record: Column) -> Column:
    """Name of the request shape (schemas.shapes.REQUEST_SHAPES), ``pyfunc:`` prefixed when the
    conversation came wrapped in a pyfunc ``record``."""
    shape = bind(as_array(root["input"]), lambda items: (
        F.when(root["messages"].isNotNull(), F.lit("chat_messages"))
        .when(items.isNotNull() & _user_input_items(items), F.lit("responses_input"))
        .when(items.isNotNull(), F.lit("embeddings_input"))
        .when(present(root["input"]), F.lit("input_text"))
        .when(present(root["query"]), F.lit("rag_query"))
        .when(present(root["prompt"]), F.lit("completion_prompt"))
        .otherwise(F.lit("unknown"))
    ))
    return F.when(record.isNotNull(), F.concat(F.lit(PYFUNC_PREFIX), shape)).otherwise(shape)


def user_query(root: Column) -> Column:
    """The last user query: last role=user message (not simply the last message), the
    ResponsesAgent input (string or items), ``query``, ``prompt`` or embeddings ``input``."""
    messages = root["messages"]
    return bind(as_array(root["input"]), lambda items: (
        F.when(messages.isNotNull(),
               content_text(last_where(messages, lambda message: message["role"] == "user")["content"]))
        .when(items.isNotNull() & _user_input_items(items),
              content_text(get(_last_user_input_item(items), "$.content")))
        .when(items.isNotNull(), join_texts(F.transform(items, scalar_string), "\n"))
        .when(present(root["input"]), scalar_string(root["input"]))
        .when(present(root["query"]), content_text(root["query"]))
        .when(present(root["prompt"]), strings_or_text(root["prompt"]))
    ))


def conversation_id(body: Column, record: Column) -> Column:
    """databricks_options.conversation_id, else context.conversation_id, on the body or on its
    pyfunc ``record``."""
    return F.coalesce(
        body["databricks_options"]["conversation_id"],
        body["context"]["conversation_id"],
        record["databricks_options"]["conversation_id"],
        record["context"]["conversation_id"],
    )
