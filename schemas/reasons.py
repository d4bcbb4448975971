"""The quarantine reasons, declared once: the rules emit only these codes, and the
``reason_detail`` column and the docs' table are derived from them (a test fails on a code a rule
can return that is not declared here)."""
from __future__ import annotations

from schemas.bodies import decoder_limits_text

#: reason code -> (what happened, what to do).
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
        "The request body is not valid JSON (often truncated, or holding raw control characters), or is JSON "
        + decoder_limits_text() + ".",
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


def reason_detail(code: str | None) -> str | None:
    """The reason in words, with what to do about it (the ``reason_detail`` column)."""
    if code is None:
        return None
    if code not in QUARANTINE_REASONS:  # a rule's bug: the run's check `reasons_declared` fails on it
        return f"Undeclared reason {code!r}: report it as a bug of inference-logs."
    what, action = QUARANTINE_REASONS[code]
    return f"{what} {action}"
