"""What the endpoint answered: the answer text of every response shape and stream kind, the
response shape, and the trace as logged with its format (docs/payload-formats.md, response
bodies and traces)."""
from __future__ import annotations

from dataclasses import dataclass

from msgspec import Raw

from pipelines.rules.decode import Read, decoder, first_not_none, is_null, json_kind, value
from pipelines.rules.text import content_text, joined, string_text
from schemas.bodies import DELTA, PREDICTION, Message, ResponseItem, TraceHead
from schemas.shapes import NOT_JSON, NOT_LOGGED, PYFUNC_PREFIX

TEXT_DELTA, ITEM_DONE, COMPLETED = "response.output_text.delta", "response.output_item.done", "response.completed"


@dataclass(frozen=True, slots=True)
class Answer:
    text: str | None
    shape: str


@dataclass(frozen=True, slots=True)
class Trace:
    """The trace of a response: ``logged``, its JSON text exactly as logged; or ``decoded``, the
    content of a JSON-encoded string that holds JSON (the text the string stood for).
    ``format`` is the row's ``schema_version``: '0' no trace, '1' steps, '2' spans (or the
    value of ``mlflow.trace_schema.version``), '3' an MLflow trace with ``info``; None for a
    trace that is not a JSON object."""
    logged: Raw | None = None
    decoded: str | None = None
    format: str | None = "0"

    @property
    def text(self) -> str | None:
        if self.decoded is not None:
            return self.decoded
        return None if self.logged is None else bytes(self.logged).decode("utf-8", errors="replace")


NO_TRACE = Trace()


def _last(items, test=lambda _: True):
    return next((item for item in reversed(items or ()) if item is not None and test(item)), None)


# --- the trace ---------------------------------------------------------------------------------


def _trace_of(item: ResponseItem | None) -> Raw | None:
    found = item.databricks_output.trace if item is not None and item.databricks_output is not None else None
    return None if is_null(found) else found


def trace_format(text) -> str | None:
    """The format of a trace's JSON text (see :class:`Trace`); None when it is not an object."""
    if json_kind(text) != "object":
        return None
    head = decoder(TraceHead).decode(text)
    if head.info is not None:
        return "3"
    if head.version is not None:
        if is_null(head.version):
            return "1"
        version = value(head.version, str)
        return version if version is not None else bytes(head.version).decode("utf-8", errors="replace")
    return "1"


def read_trace(found: Raw | None) -> Trace:
    """A trace as found on the response: an object (or any JSON but a string) is kept as logged;
    a JSON-encoded string is its content when that is JSON, else the string as logged."""
    if found is None:
        return NO_TRACE
    if json_kind(found) == "string":
        content = value(found, str)
        encoded = b"" if content is None else content.encode("utf-8")
        if content is not None and _is_json(encoded):
            return Trace(decoded=content, format=trace_format(encoded))
        return Trace(logged=found, format=None)
    return Trace(logged=found, format=trace_format(found))


def _is_json(text: bytes) -> bool:
    try:
        decoder(Raw).decode(text)
        return True
    except Exception:  # noqa: BLE001 - any failure means: not JSON
        return False


# --- aggregated (object) responses ----------------------------------------------------------


def _prediction(item: ResponseItem) -> ResponseItem | str | None:
    """The unwrapped ``predictions`` of a pyfunc response (the first element of a list)."""
    predicted = value(item.predictions, PREDICTION)
    if isinstance(predicted, list):
        predicted = value(predicted[0], ResponseItem | str) if predicted else None
    return predicted


def _object_shape(root: ResponseItem | None, root_string: str | None) -> str:
    if root is not None:
        first = root.choices[0] if root.choices else None
        if first is not None and not is_null(first.text):
            return "completion"
        if root.choices is not None:
            return "chat_completion"
        if root.output is not None:
            return "responses_agent"
        if root.messages is not None:
            return "chat_agent"
        if not is_null(root.content):
            return "legacy_content"
        if not is_null(root.error_code) or not is_null(root.error):
            return "error"
    return "string" if root_string is not None else "unknown"


def _output_text(items: list | None) -> str | None:
    """Text of the last message item of a ResponsesAgent ``output`` list."""
    message = _last(items, lambda item: item.type == "message")
    return None if message is None else content_text(message.content)


def _chat_agent_text(messages: list) -> str | None:
    """The last assistant message that has text (ChatAgent ``messages``)."""
    for message in reversed(messages):
        if message is not None and message.role == "assistant":
            text = content_text(message.content)
            if text:
                return text
    return None


def _object_answer(root: ResponseItem | None, root_string: str | None) -> str | None:
    if root is None:
        return root_string
    first = root.choices[0] if root.choices else None
    if first is not None:
        return first_not_none(content_text(first.message.content) if first.message is not None else None,
                              string_text(first.text),
                              content_text(first.delta.content) if first.delta is not None else None)
    if root.output is not None:
        return _output_text(root.output)
    if root.messages is not None:
        return _chat_agent_text(root.messages)
    if not is_null(root.content):
        return content_text(root.content)
    return root_string


def _object_fields(item: ResponseItem) -> tuple[Answer, Trace]:
    pyfunc = not is_null(item.predictions)
    predicted = _prediction(item) if pyfunc else None
    root = predicted if isinstance(predicted, ResponseItem) else None if pyfunc else item
    root_string = predicted if isinstance(predicted, str) else None
    shape = _object_shape(root, root_string)
    answer = Answer(_object_answer(root, root_string), PYFUNC_PREFIX + shape if pyfunc else shape)
    return answer, read_trace(first_not_none(_trace_of(item), _trace_of(root)))


# --- streamed responses (a JSON array of chunks) ----------------------------------------------


def stream_kind(chunks: list) -> str:
    """Which kind of stream: chat completion chunks, Responses events, ChatAgent deltas."""
    chunks = [chunk for chunk in chunks if chunk is not None]
    if any(chunk.choices is not None for chunk in chunks):
        return "stream_chat"
    if any((chunk.type or "").startswith("response.") for chunk in chunks):
        return "stream_responses"
    if any(not is_null(chunk.delta) for chunk in chunks):
        return "stream_chat_agent"
    return "stream_unknown"


def _stream_chat_text(chunks: list) -> str | None:
    def delta_text(chunk: ResponseItem) -> str | None:
        first = chunk.choices[0] if chunk.choices else None
        return content_text(first.delta.content) if first is not None and first.delta is not None else None

    return joined((delta_text(chunk) for chunk in chunks if chunk is not None), "")


def _stream_chat_agent_text(chunks: list) -> str | None:
    """The deltas of the last assistant message (by delta id) that carried text."""
    answering = []
    for chunk in chunks:
        delta = value(chunk.delta, DELTA) if chunk is not None else None
        if isinstance(delta, Message) and (delta.role or "assistant") == "assistant":
            text = content_text(delta.content)
            if text:
                answering.append((delta.id, text))
    if not answering:
        return None
    last_id = answering[-1][0]
    return "".join(text for id_, text in answering if id_ == last_id)


def _stream_responses_text(chunks: list) -> str | None:
    """The text of the last message item: its completed text when the stream closed that item,
    else its deltas. An earlier completed item never stands in for a later one cut off. A
    ``response.completed`` event that carries the whole response closes every item."""
    completed = _last(chunks, lambda c: c.type == COMPLETED and c.response is not None and c.response.output is not None)
    if completed is not None:
        return _output_text(completed.response.output)
    last = _last(chunks, lambda c: c.type == TEXT_DELTA or (c.type == ITEM_DONE and c.item is not None
                                                              and c.item.type == "message"))
    if last is None:
        return None
    if last.type == ITEM_DONE:
        return content_text(last.item.content)
    return joined((string_text(c.delta) for c in chunks
                   if c is not None and c.type == TEXT_DELTA and c.item_id == last.item_id), "")


_STREAM_TEXT = {"stream_chat": _stream_chat_text, "stream_responses": _stream_responses_text,
                "stream_chat_agent": _stream_chat_agent_text}


def _stream_fields(chunks: list) -> tuple[Answer, Trace]:
    kind = stream_kind(chunks)
    text = _STREAM_TEXT[kind](chunks) if kind in _STREAM_TEXT else None
    # the trace is in the last chunk that carries one
    return Answer(text, kind), read_trace(_trace_of(_last(chunks, lambda c: _trace_of(c) is not None)))


def response_fields(response: Read) -> tuple[Answer, Trace]:
    """The answer, the response shape and the trace of a response body as read."""
    if not response.logged:
        return Answer(None, NOT_LOGGED), NO_TRACE
    if not response.json:
        return Answer(None, NOT_JSON), NO_TRACE
    body = response.value
    if isinstance(body, list):
        return _stream_fields(body)
    if isinstance(body, ResponseItem):
        return _object_fields(body)
    return Answer(body if isinstance(body, str) else None, "string" if isinstance(body, str) else "unknown"), NO_TRACE
