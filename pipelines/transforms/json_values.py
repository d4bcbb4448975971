"""Small column functions over the open parts of a body, kept as VARIANT values by the declared
schemas (:mod:`schemas.bodies`): message content, prompts, inputs, predictions, feedback parts.

Every function takes and returns a Column and never raises on bad data: lookups use
``try_variant_get``, so a wrong type at any path gives null, which the callers count.

A value's JSON type is read once (:func:`kind`, as its own column where the caller can) and the
text is then taken by type (:func:`text_of`), instead of trying every reading in turn.
"""
from pyspark.sql import Column
from pyspark.sql import functions as F

NUMERIC_VARIANT_TYPES = ("TINYINT", "SMALLINT", "INT", "BIGINT", "FLOAT", "DOUBLE")

#: How a value is read as text (:func:`text_of`): message content (a string, a list of parts or
#: one part), a string or a list of strings (prompts, embeddings inputs), or a string only.
CONTENT, STRINGS, SCALAR = "content", "strings", "scalar"


def bind(value: Column, function) -> Column:
    """``function(value)`` with ``value`` evaluated once, however often ``function`` uses it.

    Spark copies a column expression into every place that uses it, and inside a lambda nothing
    evaluates the copies once. Here ``value`` is the one element of an array handed to
    ``function`` as a lambda variable. Where the value can be a column of its own, that is
    cheaper; this is for values computed inside a lambda."""
    return F.try_element_at(F.transform(F.array(value), function), F.lit(1))


def get(value: Column, path: str, data_type: str = "variant") -> Column:
    """The value at a JSON path, cast to ``data_type``; null when absent or of another type."""
    return F.try_variant_get(value, path, data_type)


def present(value: Column) -> Column:
    """True when the value exists and is not JSON null."""
    return value.isNotNull() & ~F.is_variant_null(value)


def as_array(value: Column) -> Column:
    """The value as array<variant>, or null when it is not an array."""
    return get(value, "$", "array<variant>")


def is_object(value: Column) -> Column:
    """True when the value is a JSON object (cheap: only its top-level keys are read)."""
    return get(value, "$", "map<string,variant>").isNotNull()


def kind(value: Column) -> Column:
    """The JSON type name of a small value: 'STRING', 'BIGINT', 'ARRAY<...>', 'OBJECT<...>', ..."""
    return F.schema_of_variant(value)


def _is_string(value: Column) -> Column:
    return kind(value) == "STRING"


def scalar_string(value: Column) -> Column:
    """The value when it is a JSON string; null for numbers, objects and arrays."""
    return F.when(_is_string(value), get(value, "$", "string"))


def is_number(value: Column) -> Column:
    return bind(kind(value), lambda name: name.isin(*NUMERIC_VARIANT_TYPES) | name.startswith("DECIMAL"))


def join_texts(texts: Column, separator: str) -> Column:
    """Join the non-null strings of an array; null when there are none (never an invented '')."""
    return bind(F.filter(texts, lambda text: text.isNotNull()),
                lambda kept: F.when(F.size(kept) > 0, F.array_join(kept, separator)))


def transform_with(items: Column, value: Column, function) -> Column:
    """``transform(items, x -> function(x, value))`` with ``value`` evaluated once per row.

    Spark evaluates an outer expression that appears inside a lambda again for every element
    (the optimizer even moves a precomputed column back in), which made the answer of a stream
    of n chunks cost n squared: minutes for a 10 MiB body. Here ``value`` is an argument of
    ``zip_with`` (repeated into an array once), not a part of the lambda."""
    return F.zip_with(items, F.array_repeat(value, F.size(items)), function)


def last_where(items: Column, predicate) -> Column:
    """The last element of an array that satisfies ``predicate``, or null."""
    return F.try_element_at(F.filter(items, predicate), F.lit(-1))


def part_text(part: Column) -> Column:
    """Text of one content part: its ``text`` when that is a string, or the part itself when it
    is a string (parts without text, such as images, give null)."""
    return F.coalesce(scalar_string(get(part, "$.text")), scalar_string(part))


def text_of(value: Column, value_kind: Column, how: str) -> Column:
    """The text of ``value``, whose :func:`kind` is ``value_kind``, read ``how``:

    - CONTENT: a string, a list of parts ``{type, text}`` joined by newlines (parts without
      text are skipped), or a single part object;
    - STRINGS: a string, or a list of strings joined by newlines;
    - SCALAR: a string only.
    """
    text = F.when(value_kind == "STRING", get(value, "$", "string"))
    if how == CONTENT:
        return (text.when(value_kind.startswith("ARRAY"), join_texts(F.transform(as_array(value), part_text), "\n"))
                .when(value_kind.startswith("OBJECT"), part_text(value)))
    if how == STRINGS:
        return text.when(value_kind.startswith("ARRAY"), join_texts(F.transform(as_array(value), scalar_string), "\n"))
    return text


def content_text(content: Column) -> Column:
    """:func:`text_of` a message ``content`` read as CONTENT, its kind computed here (for values
    inside a lambda or read once; a column of its own should pass its kind to :func:`text_of`)."""
    return bind(content, lambda value: text_of(value, kind(value), CONTENT))


def role_of(message: Column) -> Column:
    return get(message, "$.role", "string")
