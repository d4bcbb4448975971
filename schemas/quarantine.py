"""`{model}_payload_quarantine`: payload rows that could not be derived, with a reason."""
from pyspark.sql.types import DateType, IntegerType, StringType, StructType, TimestampType

from schemas.bodies import parser_limits_text
from schemas.fields import column

QUARANTINE = StructType([
    column("date", DateType(), "Payload date of the row (null when the row has none)."),
    column("timestamp", TimestampType(), "Payload request time of the row."),
    column("databricks_request_id", StringType(), "The row's request id (null when missing)."),
    column("status_code", IntegerType(), "The row's status code, as an integer."),
    column("reason", StringType(), "Reason code, one of the documented quarantine reasons."),
    column("reason_detail", StringType(), "The reason in words, with what to do about it."),
    column("payload_row", StringType(), "The payload row as JSON, every column but the response body (which the payload table keeps).",
           long_text=True),
])

PARTITION_COLUMN = "date"

#: reason code -> (what happened, what to do). Docs and reason_detail derive from this.
QUARANTINE_REASONS: dict[str, tuple[str, str]] = {
    "missing_request_id": (
        "The row has no databricks_request_id.",
        "Nothing can key it; inspect the logger that wrote it.",
    ),
    "missing_timestamp": (
        "The row has no request time (timestamp_ms / request_time).",
        "It cannot be placed in a date partition; inspect the payload table.",
    ),
    "invalid_status_code": (
        "status_code is not an integer.",
        "Fix the value in the payload table, then backfill the date.",
    ),
    "request_not_json": (
        "The request body is not valid JSON (often truncated), or is JSON beyond the parser's limits ("
        + parser_limits_text() + ").",
        "Nothing to extract; the raw body is kept here.",
    ),
    "feedback_error_status": (
        "A feedback row whose status is not 2xx: the feedback model rejected it.",
        "Nothing was recorded by the review app; usually safe to ignore.",
    ),
    "feedback_not_decodable": (
        "A feedback record's source, text_assessments or retrieval_assessments is neither "
        "JSON nor a JSON-encoded string of the expected kind.",
        "Fix the client that posts feedback; the raw body is kept here.",
    ),
    "feedback_missing_request_id": (
        "A feedback record has no request_id, so its rating rates nothing.",
        "Fix the client that posts feedback.",
    ),
    "feedback_without_assessments": (
        "A feedback row whose records carry no assessment at all.",
        "Usually an empty click in the review app; safe to ignore.",
    ),
    "feedback_timestamp_outside_date": (
        "A feedback row whose request time falls on another day than its date column.",
        "The payload row is inconsistent; inspect the payload table.",
    ),
}
