"""What the user asked: the last user query of a request body, its shape, its conversation id.

All functions take the request body parsed once into a VARIANT (see payload-formats.md §2).
"""
from pyspark.sql import Column
from pyspark.sql import functions as F

from pipelines.variant_columns import (
    as_array,
    content_text,
    get,
    join_texts,
    last_where,
    present,
    role_of,
    scalar_string,
    strings_or_text,
)


def _split_record(body: Column) -> Column:
    """First row of a pyfunc ``dataframe_split`` ({columns, data}) as an object, when well formed."""
    columns = get(body, "$.dataframe_split.columns", "array<string>")
    first_row = get(body, "$.dataframe_split.data[0]", "array<variant>")
    well_formed = (
        (F.size(columns) == F.size(first_row))
        & (F.size(F.array_distinct(columns)) == F.size(columns))
        & ~F.exists(columns, lambda name: name.isNull())
    )
    return F.when(well_formed, F.to_variant_object(F.map_from_arrays(columns, first_row)))


def pyfunc_record(body: Column) -> Column:
    """The first record of a pyfunc wrapper (dataframe_records, dataframe_split, inputs,
    instances), or null when the body is not wrapped."""
    return F.coalesce(
        get(body, "$.dataframe_records[0]"),
        _split_record(body),
        get(body, "$.inputs[0]"),
        F.when(get(body, "$.inputs.messages").isNotNull() | get(body, "$.inputs.query").isNotNull()
               | get(body, "$.inputs.input").isNotNull() | get(body, "$.inputs.prompt").isNotNull(),
               get(body, "$.inputs")),
        get(body, "$.instances[0]"),
    )


def unwrap_request(body: Column, record: Column) -> Column:
    """The object that holds the conversation: the pyfunc record, else the body itself."""
    return F.coalesce(record, body)


def _last_user_message(messages: Column) -> Column:
    return last_where(messages, lambda message: role_of(message) == "user")


def _last_user_input_item(items: Column) -> Column:
    def is_user_message(item: Column) -> Column:
        item_type = get(item, "$.type", "string")
        return (role_of(item) == "user") & (item_type.isNull() | (item_type == "message"))

    return last_where(items, is_user_message)


def _request_fields(root: Column) -> dict[str, Column]:
    messages = get(root, "$.messages", "array<variant>")
    input_value = get(root, "$.input")
    input_items = as_array(input_value)
    return {
        "messages": messages,
        "input_value": input_value,
        "input_items": input_items,
        "query": get(root, "$.query"),
        "prompt": get(root, "$.prompt"),
    }


def request_shape(root: Column, record: Column) -> Column:
    """Name of the request shape, for counts (payload-formats.md §2); ``pyfunc:`` prefixed when
    the conversation came wrapped in a pyfunc ``record``."""
    fields = _request_fields(root)
    shape = (
        F.when(fields["messages"].isNotNull(), F.lit("chat_messages"))
        .when(fields["input_items"].isNotNull()
              & F.exists(fields["input_items"], lambda item: role_of(item).isNotNull()),
              F.lit("responses_input"))
        .when(fields["input_items"].isNotNull(), F.lit("embeddings_input"))
        .when(present(fields["input_value"]), F.lit("input_text"))
        .when(present(fields["query"]), F.lit("rag_query"))
        .when(present(fields["prompt"]), F.lit("completion_prompt"))
        .otherwise(F.lit("unknown"))
    )
    return F.when(record.isNotNull(), F.concat(F.lit("pyfunc:"), shape)).otherwise(shape)


def user_query(root: Column) -> Column:
    """The last user query: last role=user message (not simply the last message), the
    ResponsesAgent input (string or items), ``query``, ``prompt`` or embeddings ``input``."""
    fields = _request_fields(root)
    items = fields["input_items"]
    return (
        F.when(fields["messages"].isNotNull(),
               content_text(get(_last_user_message(fields["messages"]), "$.content")))
        .when(items.isNotNull() & F.exists(items, lambda item: role_of(item).isNotNull()),
              content_text(get(_last_user_input_item(items), "$.content")))
        .when(items.isNotNull(), join_texts(F.transform(items, scalar_string), "\n"))
        .when(present(fields["input_value"]), scalar_string(fields["input_value"]))
        .when(present(fields["query"]), content_text(fields["query"]))
        .when(present(fields["prompt"]), strings_or_text(fields["prompt"]))
    )


def conversation_id(body: Column, record: Column) -> Column:
    """databricks_options.conversation_id, else context.conversation_id, on the body or on its
    pyfunc ``record`` (the unwrapped root works too: it is one of the two)."""
    return F.coalesce(
        get(body, "$.databricks_options.conversation_id", "string"),
        get(body, "$.context.conversation_id", "string"),
        get(record, "$.databricks_options.conversation_id", "string"),
        get(record, "$.context.conversation_id", "string"),
    )
