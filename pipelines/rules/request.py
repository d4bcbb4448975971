"""What the user asked: the last user query of a request body, the body's shape and the
conversation id (docs/payload-formats.md, request bodies)."""
from __future__ import annotations

from dataclasses import dataclass

import msgspec

from pipelines.rules.decode import Read, decode, is_null, value
from pipelines.rules.text import content_text, string_text, strings_text
from schemas.bodies import INPUT_ITEMS, RECORDS, Message, RequestBody, RequestRecord
from schemas.shapes import NOT_JSON, NOT_LOGGED, PYFUNC_PREFIX

#: The keys that make a pyfunc ``inputs`` object a record.
_RECORD_KEYS = ("messages", "query", "input", "prompt")


@dataclass(frozen=True, slots=True)
class UserQuery:
    text: str | None
    shape: str
    conversation_id: str | None


def _split_record(body: RequestBody) -> RequestRecord | None:
    """The first row of a pyfunc ``dataframe_split`` ({columns, data}) as a record, when its
    column names are distinct strings, one per value."""
    split = body.dataframe_split
    if split is None or not split.columns or not split.data or split.data[0] is None:
        return None
    columns, row = split.columns, split.data[0]
    if len(columns) != len(row) or None in columns or len(set(columns)) != len(columns):
        return None
    pairs = b",".join(msgspec.json.encode(name) + b":" + bytes(part) for name, part in zip(columns, row))
    try:
        return decode(b"{" + pairs + b"}", RequestRecord)
    except (msgspec.DecodeError, RecursionError):
        return None


def _inputs_record(body: RequestBody) -> RequestRecord | None:
    """pyfunc ``inputs``: its first record, or the object itself when it holds a conversation."""
    inputs = value(body.inputs, RECORDS)
    if isinstance(inputs, list):
        return inputs[0] if inputs else None
    if inputs is not None and any(getattr(inputs, key) is not None for key in _RECORD_KEYS):
        return inputs
    return None


def pyfunc_record(body: RequestBody) -> RequestRecord | None:
    """The first record of a pyfunc wrapper (dataframe_records, dataframe_split, inputs,
    instances), or None when the body is not wrapped."""
    if body.dataframe_records is None and body.dataframe_split is None and is_null(body.inputs) \
            and body.instances is None:
        return None
    for record in (body.dataframe_records[0] if body.dataframe_records else None, _split_record(body),
                   _inputs_record(body), body.instances[0] if body.instances else None):
        if record is not None:
            return record
    return None


def conversation_id(body: RequestBody, record: RequestRecord | None) -> str | None:
    """databricks_options.conversation_id, else context.conversation_id, on the body or on its
    pyfunc record."""
    for holder in (body, record):
        if holder is None:
            continue
        for options in (holder.databricks_options, holder.context):
            if options is not None and options.conversation_id is not None:
                return options.conversation_id
    return None


def _last(items, test):
    return next((item for item in reversed(items) if item is not None and test(item)), None)


def _is_user_input_item(item) -> bool:
    return isinstance(item, Message) and item.role == "user" and item.type in (None, "message")


def record_query(record: RequestRecord) -> tuple[str | None, str]:
    """The last user query of a record and its shape, by the first of these it holds:
    ``messages`` (the content of the last message whose role is user, not simply the last
    message), ``input`` as items (the last user item's content), ``input`` as a list of strings,
    ``input`` as a string, ``query``, ``prompt``."""
    if record.messages is not None:
        message = _last(record.messages, lambda m: m.role == "user")
        return (content_text(message.content) if message else None), "chat_messages"
    items = value(record.input, INPUT_ITEMS)
    if isinstance(items, list):
        if any(isinstance(item, Message) and item.role is not None for item in items):
            item = _last(items, _is_user_input_item)
            return (content_text(item.content) if item else None), "responses_input"
        return strings_text(record.input), "embeddings_input"
    if not is_null(record.input):
        return string_text(record.input), "input_text"
    if not is_null(record.query):
        return content_text(record.query), "rag_query"
    if not is_null(record.prompt):
        return strings_text(record.prompt), "completion_prompt"
    return None, "unknown"


def user_query(request: Read) -> UserQuery:
    """The query, the request shape (``pyfunc:`` before a wrapped record's shape; ``not_logged``,
    ``not_json``) and the conversation id of a request body as read."""
    if not request.logged:
        return UserQuery(None, NOT_LOGGED, None)
    if not request.json:
        return UserQuery(None, NOT_JSON, None)
    body = request.value
    if body is None:   # JSON, but not an object
        return UserQuery(None, "unknown", None)
    record = pyfunc_record(body)
    text, shape = record_query(record if record is not None else body)
    return UserQuery(text, PYFUNC_PREFIX + shape if record is not None else shape, conversation_id(body, record))
