"""The JSON shapes the parser reads (payload-formats.md §2-§5), declared once.

Each body is parsed once with ``from_json`` into exactly these fields; the parser skips
everything else. Two kinds of leaf say how a part is kept:

- ``VariantType``: a part whose shape is open (message ``content`` is a string or a list of
  parts; ``predictions`` is a string, an object or a list; feedback parts may be JSON-encoded
  strings). It is kept as a small VARIANT and read by :mod:`pipelines.transforms.json_values`.
- ``StringType`` on an object: its JSON text as it was logged, keys in their original order
  (the trace).

A field of the wrong type in a body yields null for that field only (``from_json`` keeps the
rest of the record and sets ``_corrupt_record``); invalid JSON is told apart from that by
:func:`pipelines.transforms.request.parse_request`.
"""
from pyspark.sql.types import ArrayType, StringType, StructField, StructType, VariantType

#: Set by from_json on a record it could not read whole (invalid JSON, or a field of another type).
CORRUPT_RECORD = "_corrupt_record"


def _struct(**fields) -> StructType:
    return StructType([StructField(name, data_type) for name, data_type in fields.items()])


OPEN = VariantType()
TEXT = StringType()

CONVERSATION_ID = _struct(conversation_id=TEXT)

#: A chat message, a ChatAgent message, or a ResponsesAgent output item.
MESSAGE = _struct(id=TEXT, type=TEXT, role=TEXT, content=OPEN)

#: The object that holds a conversation, its options and (on feedback rows) the ratings: a
#: request body itself, or the first record of a pyfunc wrapper.
REQUEST_RECORD = _struct(
    messages=ArrayType(MESSAGE),
    input=OPEN,                 # a string, a list of items, or a list of strings (embeddings)
    query=OPEN,
    prompt=OPEN,                # a string or a list of strings
    databricks_options=CONVERSATION_ID,
    context=CONVERSATION_ID,
    # feedback records (the review app's feedback model)
    request_id=TEXT,
    step_id=TEXT,
    source=OPEN,                # an object, or a JSON-encoded string of one
    text_assessments=OPEN,      # a list or an object, or a JSON-encoded string of one
    retrieval_assessments=OPEN,
)

#: A request body: the record fields, the pyfunc wrappers around a record, the corrupt marker.
REQUEST_BODY = StructType([
    *REQUEST_RECORD.fields,
    StructField("dataframe_records", ArrayType(REQUEST_RECORD)),
    StructField("dataframe_split", _struct(columns=ArrayType(TEXT), data=ArrayType(ArrayType(OPEN)))),
    StructField("inputs", OPEN),          # a list of records, or one record object
    StructField("instances", ArrayType(REQUEST_RECORD)),
    StructField(CORRUPT_RECORD, TEXT),
])

CHOICE = _struct(message=_struct(role=TEXT, content=OPEN), text=OPEN, delta=_struct(role=TEXT, content=OPEN))

#: One element of a response body parsed as a list: the whole body when it is an object, or one
#: chunk of a streamed body (a JSON array of chunks). Object fields and chunk fields together.
RESPONSE_ITEM = _struct(
    object=TEXT,
    choices=ArrayType(CHOICE),
    output=ArrayType(MESSAGE),            # ResponsesAgent output items
    messages=ArrayType(MESSAGE),          # ChatAgent messages
    content=OPEN,                         # legacy string answer
    error_code=OPEN,
    error=OPEN,
    predictions=OPEN,                     # pyfunc: unwrapped, then read as a RESPONSE_ITEM
    # stream chunks
    type=TEXT,                            # Responses event type
    delta=OPEN,                           # Responses text delta (string) or ChatAgent delta (object)
    item_id=TEXT,
    item=MESSAGE,
    response=_struct(output=ArrayType(MESSAGE)),
    databricks_output=_struct(trace=TEXT),  # the trace as logged (JSON text)
    **{CORRUPT_RECORD: TEXT},
)

RESPONSE_BODY = ArrayType(RESPONSE_ITEM)

#: Options of every from_json call: nothing is guessed from the text.
PARSE_OPTIONS = {
    "mode": "PERMISSIVE",
    "columnNameOfCorruptRecord": CORRUPT_RECORD,
    "allowNumericLeadingZeros": "false",
    "allowNonNumericNumbers": "false",
    "allowSingleQuotes": "false",
    "allowUnquotedFieldNames": "false",
    "allowBackslashEscapingAnyCharacter": "false",
    "allowUnquotedControlChars": "false",
}

#: The limits of the JSON parser behind every Spark JSON function (from_json, parse_json,
#: get_json_object): Jackson's defaults, which Spark keeps. Valid JSON beyond them is read as not
#: JSON, the same way by each of them (a test pins them, so a Spark upgrade that moves them is
#: noticed).
PARSER_LIMITS = {
    "nesting_depth": 1_000,          # levels of objects and arrays
    "number_digits": 1_000,          # characters of one number
    "key_characters": 50_000,        # characters of one object key
    "string_characters": 20_000_000,  # characters of one string the rules read (others are skipped)
}


def parser_limits_text() -> str:
    """The limits in words, for the docs and the quarantine reasons."""
    limits = {name: f"{value:,}" for name, value in PARSER_LIMITS.items()}
    return (f"nested deeper than {limits['nesting_depth']} levels, a number of more than {limits['number_digits']} "
            f"digits, a key of more than {limits['key_characters']} characters, or a string the rules read of more "
            f"than {limits['string_characters']} characters")


TRACE_VERSION_KEY = "mlflow.trace_schema.version"
