"""Small column functions over the open parts of a body, kept as VARIANT values by the declared
schemas (:mod:`schemas.bodies`): message content, prompts, inputs, predictions, feedback parts.

Every function takes and returns a Column and never raises on bad data: lookups use
``try_variant_get``, so a wrong type at any path gives null, which the callers count.
"""
from pyspark.sql import Column
from pyspark.sql import functions as F

NUMERIC_VARIANT_TYPES = ("TINYINT", "SMALLINT", "INT", "BIGINT", "FLOAT", "DOUBLE")


def bind(value: Column, function) -> Column:
    """``function(value)`` with ``value`` evaluated once, however often ``function`` uses it.

    Spark copies a column expression into every place that uses it, and inside a lambda or a
    nested helper nothing evaluates the copies once: ``join_texts`` built its list of texts
    twice, and the content of every chunk was read twice per level of nesting. Here ``value``
    is the one element of an array handed to ``function`` as a lambda variable."""
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


def variant_type(value: Column) -> Column:
    """The JSON type name of a small value ('STRING', 'BIGINT', 'OBJECT<...>', ...)."""
    return F.schema_of_variant(value)


def scalar_string(value: Column) -> Column:
    """The value when it is a JSON string; null for numbers, objects and arrays."""
    return bind(value, lambda v: F.when(variant_type(v) == "STRING", get(v, "$", "string")))


def is_number(value: Column) -> Column:
    return bind(variant_type(value), lambda kind: kind.isin(*NUMERIC_VARIANT_TYPES) | kind.startswith("DECIMAL"))


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


def content_text(content: Column) -> Column:
    """Text of a message ``content``: a string, or a list of parts ``{type, text}`` joined by
    newlines (parts without text, such as images, are skipped), or a single part object."""
    def text(part: Column) -> Column:
        return F.coalesce(scalar_string(get(part, "$.text")), scalar_string(part))

    def of_content(value: Column) -> Column:
        return bind(as_array(value), lambda parts: F.when(
            parts.isNotNull(), join_texts(F.transform(parts, text), "\n")).otherwise(text(value)))

    return bind(content, of_content)


def strings_or_text(value: Column) -> Column:
    """A string, or a list of strings joined by newlines (a prompt or an embeddings input)."""
    return bind(value, lambda v: bind(as_array(v), lambda items: F.when(
        items.isNotNull(), join_texts(F.transform(items, scalar_string), "\n")).otherwise(scalar_string(v))))


def role_of(message: Column) -> Column:
    return get(message, "$.role", "string")
