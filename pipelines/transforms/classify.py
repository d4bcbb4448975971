"""The valid/quarantine split: every distinct payload row gets exactly one destination
(request_logs, assessment_logs or quarantine) and, when quarantined, one reason.

A destination depends on the narrow columns and the request body only (never the response), so
each output's pass classifies the rows itself, with the same column functions: the request-logs
pass needs only :func:`basic_reason` and ``is_feedback``, the assessment-logs pass the feedback
rows' reasons, the quarantine pass every reason. The run's counts prove that the three agree.
"""
from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from pipelines.transforms import feedback, request
from pipelines.transforms.columns import built_once, with_steps
from pipelines.transforms.duplicates import collapse_duplicates
from pipelines.transforms.normalize import normalize_payload
from schemas.quarantine import QUARANTINE_REASONS

REQUEST_LOGS = "request_logs"
ASSESSMENT_LOGS = "assessment_logs"
QUARANTINE = "quarantine"


def is_2xx(status: Column) -> Column:
    return status.between(200, 299)


def may_hold_feedback(raw: Column) -> Column:
    """Whether a request body may hold feedback: it names ``..._assessments`` (both feedback keys
    do), or it has a ``\\u`` escape (which could spell such a key). A cheap text search that every
    feedback body passes, so that only these bodies are searched for feedback. (Both searched
    texts start with a rare character: a search for ``assessments`` stopped at every ``a``.)"""
    return F.coalesce(raw.contains("_assessments") | raw.contains("\\u"), F.lit(False))


@built_once
def request_parse_steps() -> list[dict[str, Column]]:
    """The request body parsed once (``request_body``), whether it was JSON
    (``request_parsed``), and whether the row is feedback (``is_feedback``)."""
    raw, body = F.col("request_raw"), F.col("request_body")
    return [
        {"request_body": request.parse_request(raw)},
        {"request_parsed": request.is_json(raw, body),
         "is_feedback": F.when(may_hold_feedback(raw), F.coalesce(feedback.is_feedback(body), F.lit(False)))
                         .otherwise(F.lit(False))},
    ]


def parse_requests(df: DataFrame) -> DataFrame:
    return with_steps(df, request_parse_steps())


def basic_reason(id_: Column, timestamp: Column, status: Column, status_raw: Column, request_raw: Column,
                 request_parsed: Column) -> Column:
    """The reason of any row that cannot be derived, feedback or not; null when none applies."""
    return (
        F.when(id_.isNull(), F.lit("missing_request_id"))
        .when(timestamp.isNull(), F.lit("missing_timestamp"))
        .when(status_raw.isNotNull() & status.isNull(), F.lit("invalid_status_code"))
        .when(request_raw.isNotNull() & ~request_parsed, F.lit("request_not_json"))
    )


def feedback_reason(status: Column, timestamp: Column, date: Column, problem: Column) -> Column:
    """The reason of a feedback row (without a basic reason) whose assessments cannot be logged."""
    return (
        F.when(status.isNotNull() & ~is_2xx(status), F.lit("feedback_error_status"))
        .when(problem.isNotNull(), problem)
        .when(F.to_date(timestamp) != date, F.lit("feedback_timestamp_outside_date"))
    )


def _basic_reason_of_frame() -> Column:
    return basic_reason(F.col("databricks_request_id"), F.col("timestamp"), F.col("status_code"),
                        F.col("status_code_raw"), F.col("request_raw"), F.col("request_parsed"))


@built_once
def destination_steps() -> list[dict[str, Column]]:
    """From a parsed frame (:func:`parse_requests`) to ``reason``, ``assessment_count`` (feedback
    rows) and ``destination``."""
    is_fb, count = F.col("is_feedback"), F.col("assessment_count")
    return [
        {"_basic_reason": _basic_reason_of_frame()},
        {"assessment_count": F.when(is_fb & F.col("_basic_reason").isNull(), feedback.assessment_count(F.col("request_body")))},
        {"reason": F.coalesce(F.col("_basic_reason"), F.when(is_fb, feedback_reason(
            F.col("status_code"), F.col("timestamp"), F.col("date"),
            feedback.feedback_problem(F.col("request_body"), count))))},
        {"destination": destination(F.col("reason"), is_fb)},
    ]


def with_destination(df: DataFrame) -> DataFrame:
    """A parsed frame with ``reason``, ``assessment_count`` and ``destination``."""
    return with_steps(df, destination_steps()).drop("_basic_reason")


@built_once
def is_request_log() -> Column:
    """The request-logs pass's test, the same split as :func:`destination` == request_logs."""
    return _basic_reason_of_frame().isNull() & ~F.col("is_feedback")


def classify_rows(normalized: DataFrame, repeated=None, by_response: bool = False) -> DataFrame:
    """Every distinct row of a normalized frame, its request parsed, with its destination
    (``repeated``, ``by_response``: see :func:`pipelines.transforms.duplicates.collapse_duplicates`)."""
    return with_destination(parse_requests(collapse_duplicates(normalized, repeated, by_response)))


def classify_payload(payload: DataFrame, repeated=None) -> DataFrame:
    """:func:`classify_rows` of a raw payload frame."""
    return classify_rows(normalize_payload(payload), repeated)


def destination(reason: Column, is_feedback: Column) -> Column:
    return (
        F.when(reason.isNotNull(), F.lit(QUARANTINE))
        .when(is_feedback, F.lit(ASSESSMENT_LOGS))
        .otherwise(F.lit(REQUEST_LOGS))
    )


def reason_detail(reason: Column) -> Column:
    """The reason code in words, from the declared catalogue."""
    texts = F.create_map(*[
        item
        for code, (what, action) in QUARANTINE_REASONS.items()
        for item in (F.lit(code), F.lit(f"{what} {action}"))
    ])
    return F.try_element_at(texts, reason)
