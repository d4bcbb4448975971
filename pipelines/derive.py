"""The pipeline as pure transforms: payload DataFrame -> classified rows -> the three tables.

``classify_payload`` parses each body once (into a VARIANT), extracts every field with native
column expressions, and gives each row one destination. ``request_logs``, ``assessment_logs``
and ``quarantine`` are projections of the classified frame; persist it once to write all three
from a single read (the I/O layer does).
"""
from typing import NamedTuple

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from pipelines import classify, feedback, request_bodies, response_bodies
from pipelines.payload_input import normalize_payload, payload_row_json, restore_bodies
from schemas.assessment_logs import ASSESSMENT_LOGS
from schemas.quarantine import QUARANTINE
from schemas.request_logs import REQUEST_LOGS


def parse_bodies(df: DataFrame) -> DataFrame:
    """Parse each body once; invalid JSON becomes null (the raw text is kept)."""
    return df.withColumn("request_body", F.try_parse_json("request_raw")).withColumn(
        "response_body", F.try_parse_json("response_raw")
    )


def _body_shape(raw: str, parsed: str, shape):
    return (
        F.when(F.col(raw).isNull(), F.lit("not_logged"))
        .when(~F.col(parsed), F.lit("not_json"))
        .otherwise(shape)
    )


# Memory: a body near 10 MiB is copied into every projection that carries it, and each
# projection keeps a buffer of up to twice its widest row for the rest of its task. So the
# extraction below runs in few steps, and each parsed body (or part of one) is dropped at its
# last use instead of travelling to the end: unwrap_bodies reads the whole bodies, the later
# steps only what it took from them.

def unwrap_bodies(df: DataFrame) -> DataFrame:
    """From the parsed bodies: whether each parsed, whether the row is feedback, the pyfunc
    record and prediction, the stream chunks, the trace on the body, and the feedback body."""
    request, response = F.col("request_body"), F.col("response_body")
    # Written out in each column (not read back from a new is_feedback column) so that this stays
    # one projection; subexpression elimination evaluates the repeated expression once per row.
    is_feedback = F.when(request.isNotNull(), feedback.is_feedback(request)).otherwise(F.lit(False))
    return df.withColumns({
        "is_feedback": is_feedback,
        "request_parsed": request.isNotNull(),
        "response_parsed": response.isNotNull(),
        "_feedback_body": F.when(is_feedback, request),
        "_request_record": F.when(~is_feedback, request_bodies.pyfunc_record(request)),
        "_predicted": F.when(~is_feedback, response_bodies.prediction(response)),
        "_chunks": F.when(~is_feedback, response_bodies.stream_chunks(response, F.col("response_raw"))),
        "_trace_on_body": F.when(~is_feedback, response_bodies.trace_on_body(response)),
    })


def unwrap_roots(df: DataFrame) -> DataFrame:
    """The objects that hold the conversation and the answer; the whole bodies end here."""
    not_feedback = ~F.col("is_feedback")
    return df.withColumns({
        "_request_root": F.when(not_feedback, request_bodies.unwrap_request(F.col("request_body"), F.col("_request_record"))),
        "conversation_id": request_bodies.conversation_id(F.col("request_body"), F.col("_request_record")),
        "_response_root": F.when(not_feedback, response_bodies.unwrap_response(F.col("response_body"), F.col("_predicted"))),
    }).drop("request_body", "response_body")


def extract_request_fields(df: DataFrame) -> DataFrame:
    root, record = F.col("_request_root"), F.col("_request_record")
    return df.withColumns({
        "request": request_bodies.user_query(root),
        "request_shape": F.when(F.col("is_feedback"), F.lit("feedback")).otherwise(
            _body_shape("request_raw", "request_parsed", request_bodies.request_shape(root, record))),
    }).drop("_request_root", "_request_record")


def extract_response_fields(df: DataFrame) -> DataFrame:
    root, chunks, predicted = F.col("_response_root"), F.col("_chunks"), F.col("_predicted")
    not_feedback = ~F.col("is_feedback")
    return (
        df.withColumns({
            "response": response_bodies.answer(root, chunks),
            "response_shape": F.when(F.col("is_feedback"), F.lit("feedback")).otherwise(
                _body_shape("response_raw", "response_parsed", response_bodies.response_shape(root, chunks, predicted))),
            "_trace": F.when(not_feedback, response_bodies.trace_value(F.col("_trace_on_body"), root, chunks)),
        })
        .drop("_response_root", "_chunks", "_predicted", "_trace_on_body")
        .withColumns({
            "trace": F.to_json("_trace"),
            "schema_version": F.when(not_feedback, response_bodies.trace_format(F.col("_trace"))),
        })
        .drop("_trace")
    )


def extract_feedback(df: DataFrame) -> DataFrame:
    body = F.col("_feedback_body")
    return (
        df.withColumn("assessments", feedback.assessment_items(body))
        .withColumn("feedback_problem", F.when(F.col("is_feedback"), feedback.feedback_problem(body, F.col("assessments"))))
        .drop("_feedback_body")
    )


def assign_destination(df: DataFrame) -> DataFrame:
    is_fb = F.col("is_feedback")
    reason = classify.quarantine_reason(is_fb, F.col("feedback_problem"))
    return (
        df.withColumn("reason", reason)
        .withColumn("destination", classify.destination(F.col("reason"), is_fb))
        .withColumn("reason_detail", classify.reason_detail(F.col("reason")))
    )


CLASSIFIED_EXTRA_COLUMNS = [
    "request_shape", "response_shape", "is_feedback", "assessments", "duplicates_collapsed",
    "destination", "reason", "reason_detail", "payload_row",
]


def classify_payload(payload: DataFrame) -> DataFrame:
    """Every distinct payload row with its derived request-logs columns, its assessments, its
    shapes, and its destination (with a reason when quarantined)."""
    classified = (
        payload.transform(normalize_payload)
        .transform(classify.collapse_duplicates)
        .transform(parse_bodies)
        .transform(unwrap_bodies)
        .transform(unwrap_roots)
        .transform(extract_feedback)
        .transform(extract_request_fields)
        .transform(extract_response_fields)
        .transform(assign_destination)
    )
    # The whole payload row is only kept where it is needed: on quarantined rows.
    payload_row = restore_bodies(F.col("payload_row"), classified.schema["payload_row"].dataType)
    kept_payload_row = F.when(F.col("destination") == classify.QUARANTINE, payload_row)
    return classified.withColumn("payload_row", kept_payload_row).select(
        *REQUEST_LOGS.fieldNames(), *CLASSIFIED_EXTRA_COLUMNS)


def request_logs(classified: DataFrame) -> DataFrame:
    rows = classified.where(F.col("destination") == classify.REQUEST_LOGS)
    return rows.select(*[F.col(f.name).cast(f.dataType).alias(f.name) for f in REQUEST_LOGS.fields])


def assessment_logs(classified: DataFrame) -> DataFrame:
    rows = classified.where(F.col("destination") == classify.ASSESSMENT_LOGS)
    exploded = rows.select("timestamp", F.explode("assessments").alias("a"))
    return exploded.select(*[
        (F.col("timestamp") if f.name == "timestamp" else F.col(f"a.{f.name}")).cast(f.dataType).alias(f.name)
        for f in ASSESSMENT_LOGS.fields
    ])


def quarantine(classified: DataFrame) -> DataFrame:
    rows = classified.where(F.col("destination") == classify.QUARANTINE)
    return rows.withColumn("payload_row", payload_row_json(F.col("payload_row"))).select(
        *[F.col(f.name).cast(f.dataType).alias(f.name) for f in QUARANTINE.fields]
    )


class DerivedTables(NamedTuple):
    classified: DataFrame
    request_logs: DataFrame
    assessment_logs: DataFrame
    quarantine: DataFrame


def derive_tables(payload: DataFrame) -> DerivedTables:
    """All three outputs of a payload frame (lazily; persist ``classified`` before writing)."""
    return derive_from_classified(classify_payload(payload))


def derive_from_classified(classified: DataFrame) -> DerivedTables:
    return DerivedTables(classified, request_logs(classified), assessment_logs(classified), quarantine(classified))
