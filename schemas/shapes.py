"""The names a run counts rows by: request and response shapes and trace formats.

Counts are taken while the data flows (``DataFrame.observe``), one counter per declared name,
so every name a transform can produce is declared here (a test keeps them in step).
"""
PYFUNC_PREFIX = "pyfunc:"
NOT_LOGGED, NOT_JSON = "not_logged", "not_json"

REQUEST_SHAPES = ("chat_messages", "responses_input", "embeddings_input", "input_text", "rag_query",
                  "completion_prompt", "unknown")

OBJECT_RESPONSE_SHAPES = ("completion", "chat_completion", "responses_agent", "chat_agent", "legacy_content",
                          "error", "string", "unknown")
STREAM_RESPONSE_SHAPES = ("stream_chat", "stream_responses", "stream_chat_agent", "stream_unknown")


def _with_pyfunc(shapes: tuple[str, ...]) -> tuple[str, ...]:
    return (*shapes, *(PYFUNC_PREFIX + shape for shape in shapes), NOT_LOGGED, NOT_JSON)


#: Every request shape of a request-logs row.
ALL_REQUEST_SHAPES = _with_pyfunc(REQUEST_SHAPES)
#: Every response shape of a request-logs row (a pyfunc prediction is never a stream).
ALL_RESPONSE_SHAPES = (*_with_pyfunc(OBJECT_RESPONSE_SHAPES), *STREAM_RESPONSE_SHAPES)
#: Trace formats (schema_version); a trace that is not a JSON object has none ("unrecognized").
TRACE_FORMATS = ("0", "1", "2", "3")
UNRECOGNIZED = "unrecognized"
#: Status codes are counted by class.
STATUS_CLASSES = ("1xx", "2xx", "3xx", "4xx", "5xx", "other", "none")
