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
from pipelines.payload_input import normalize_payload, payload_row_json
from schemas.assessment_logs import ASSESSMENT_LOGS
from schemas.quarantine import QUARANTINE
from schemas.request_logs import REQUEST_LOGS


def parse_bodies(df: DataFrame) -> DataFrame:
    """Parse each body once; invalid JSON becomes null (the raw text is kept)."""
    return df.withColumn("request_body", F.try_parse_json("request_raw")).withColumn(
        "response_body", F.try_parse_json("response_raw")
    )


def _body_shape(raw: str, body: str, shape):
    return (
        F.when(F.col(raw).isNull(), F.lit("not_logged"))
        .when(F.col(body).isNull(), F.lit("not_json"))
        .otherwise(shape)
    )


def extract_request_fields(df: DataFrame) -> DataFrame:
    body = F.col("request_body")
    not_feedback = ~F.col("is_feedback")
    return (
        df.withColumn("_request_record", F.when(not_feedback, request_bodies.pyfunc_record(body)))
        .withColumn("_request_root", F.when(not_feedback, request_bodies.unwrap_request(body, F.col("_request_record"))))
        .withColumn("request", request_bodies.user_query(F.col("_request_root")))
        .withColumn("conversation_id", request_bodies.conversation_id(body, F.col("_request_root")))
        .withColumn("request_shape", F.when(F.col("is_feedback"), F.lit("feedback")).otherwise(
            _body_shape("request_raw", "request_body",
                        request_bodies.request_shape(F.col("_request_root"), F.col("_request_record")))))
    )


def extract_response_fields(df: DataFrame) -> DataFrame:
    body = F.col("response_body")
    not_feedback = ~F.col("is_feedback")
    return (
        df.withColumn("_predicted", F.when(not_feedback, response_bodies.prediction(body)))
        .withColumn("_chunks", F.when(not_feedback, response_bodies.stream_chunks(body, F.col("response_raw"))))
        .withColumn("_response_root", F.when(not_feedback, response_bodies.unwrap_response(body, F.col("_predicted"))))
        .withColumn("response", response_bodies.answer(F.col("_response_root"), F.col("_chunks")))
        .withColumn("response_shape", F.when(F.col("is_feedback"), F.lit("feedback")).otherwise(
            _body_shape("response_raw", "response_body",
                        response_bodies.response_shape(F.col("_response_root"), F.col("_chunks"), F.col("_predicted")))))
        .withColumn("_trace", F.when(not_feedback, response_bodies.trace_value(body, F.col("_response_root"), F.col("_chunks"))))
        .withColumn("trace", F.to_json("_trace"))
        .withColumn("schema_version", F.when(not_feedback, response_bodies.trace_format(F.col("_trace"))))
    )


def extract_feedback(df: DataFrame) -> DataFrame:
    body = F.col("request_body")
    items = F.col("assessments")
    return df.withColumn("assessments", F.when(F.col("is_feedback"), feedback.assessment_items(body))).withColumn(
        "feedback_problem", F.when(F.col("is_feedback"), feedback.feedback_problem(body, items))
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
        .withColumn("is_feedback", F.when(F.col("request_body").isNotNull(), feedback.is_feedback(F.col("request_body")))
                    .otherwise(F.lit(False)))
        .transform(extract_request_fields)
        .transform(extract_response_fields)
        .transform(extract_feedback)
        .transform(assign_destination)
    )
    # The whole payload row is only kept where it is needed: on quarantined rows.
    kept_payload_row = F.when(F.col("destination") == classify.QUARANTINE, F.col("payload_row"))
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
