"""Where each distinct payload row goes: request logs, assessment logs, or quarantine with one
reason from the declared catalogue (:mod:`schemas.reasons`).

A row's destination depends on its narrow columns and its request body only, never its
response, so every pass can classify the rows it reads with this one function.
"""
from __future__ import annotations

from dataclasses import dataclass

from pipelines.rules import feedback
from pipelines.rules.decode import Read

REQUEST_LOGS, ASSESSMENT_LOGS, QUARANTINE = "request_logs", "assessment_logs", "quarantine"
DESTINATIONS = (REQUEST_LOGS, ASSESSMENT_LOGS, QUARANTINE)


@dataclass(frozen=True, slots=True)
class PayloadRow:
    """The narrow columns a classification reads. ``day`` is the UTC day of the request time and
    ``date`` the row's date column, both as days since 1970-01-01 (None when absent)."""
    request_id: str | None
    has_time: bool
    status: int | None
    status_raw: str | None
    day: int | None
    date: int | None


@dataclass(frozen=True, slots=True)
class Classification:
    destination: str
    reason: str | None
    is_feedback: bool
    #: How many assessment rows the row gives (a feedback row without a basic reason), else 0.
    assessment_count: int


def is_2xx(status: int | None) -> bool:
    return status is not None and 200 <= status <= 299


def basic_reason(row: PayloadRow, request: Read) -> str | None:
    """The reason of any row that cannot be derived, feedback or not; None when none applies."""
    if row.request_id is None:
        return "missing_request_id"
    if not row.has_time:
        return "missing_timestamp"
    if row.status_raw is not None and row.status is None:
        return "invalid_status_code"
    if request.logged and not request.json:
        return "request_not_json"
    return None


def feedback_reason(row: PayloadRow, problem: str | None) -> str | None:
    """The reason of a feedback row (without a basic reason) whose assessments cannot be logged."""
    if row.status is not None and not is_2xx(row.status):
        return "feedback_error_status"
    if problem is not None:
        return problem
    if row.day is not None and row.date is not None and row.day != row.date:
        return "feedback_timestamp_outside_date"
    return None


def classify(row: PayloadRow, request: Read) -> Classification:
    """The destination of a distinct payload row, its reason when quarantined, whether it is
    feedback, and how many assessments it carries."""
    reason = basic_reason(row, request)
    body = request.value if request.json else None
    is_feedback = feedback.is_feedback(body)
    count = 0
    if is_feedback and reason is None:
        found = feedback.feedback_records(body)
        count = feedback.assessment_count(found)
        reason = feedback_reason(row, feedback.feedback_problem(found))
    destination = QUARANTINE if reason is not None else ASSESSMENT_LOGS if is_feedback else REQUEST_LOGS
    return Classification(destination, reason, is_feedback, count)
