"""The pipeline as pure transforms: payload rows -> classified rows -> each output table.

Each output is derived by its own pass over the payload, with nothing cached between them:

- :func:`classify_rows` needs only the narrow columns and the request body: it parses the
  request once (by its declared schema) and gives every distinct row one destination. The
  assessment-logs and quarantine passes never parse a response body.
- :func:`request_log_rows` parses the response body (once), for the request-logs rows only.

The counts of a run are taken while these passes run (:mod:`pipelines.runs.report`).
"""
from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from pipelines.transforms import classify, feedback, request, response
from pipelines.transforms.columns import built_once, with_steps
from pipelines.transforms.json_values import scalar_string
from pipelines.transforms.normalize import normalize_payload, payload_row_json, restore_bodies
from schemas.assessment_logs import ASSESSMENT_LOGS
from schemas.quarantine import QUARANTINE
from schemas.request_logs import REQUEST_LOGS
from schemas.shapes import NOT_JSON, NOT_LOGGED


def _body_shape(raw: Column, parsed: Column, shape: Column) -> Column:
    return F.when(raw.isNull(), F.lit(NOT_LOGGED)).when(~parsed, F.lit(NOT_JSON)).otherwise(shape)


@built_once
def _request_parse_steps() -> list[dict[str, Column]]:
    body, is_fb = F.col("request_body"), F.col("is_feedback")
    return [
        {"request_body": request.parse_request(F.col("request_raw"))},
        {"request_parsed": request.is_json(F.col("request_raw"), body),
         "is_feedback": F.coalesce(feedback.is_feedback(body), F.lit(False))},
        {"assessment_count": F.when(is_fb, feedback.assessment_count(body))},
        {"feedback_problem": F.when(is_fb, feedback.feedback_problem(body, F.col("assessment_count")))},
    ]


def parse_requests(df: DataFrame) -> DataFrame:
    """The request body parsed once (``request_body``), whether it was JSON, whether the row is
    feedback, and for feedback rows how many assessments they carry and what is wrong with them
    (the assessments themselves are built by the assessment-logs pass, :func:`assessment_logs`)."""
    return with_steps(df, _request_parse_steps())


@built_once
def _destination_steps() -> list[dict[str, Column]]:
    is_fb = F.col("is_feedback")
    return [
        {"reason": classify.quarantine_reason(is_fb, F.col("feedback_problem"))},
        {"destination": classify.destination(F.col("reason"), is_fb)},
    ]


def assign_destination(df: DataFrame) -> DataFrame:
    return with_steps(df, _destination_steps())


def may_hold_feedback(raw: Column) -> Column:
    """Whether a request body may hold feedback: it names ``...assessments``, or it has a
    ``\\u`` escape (which could spell that key). A cheap text search: every feedback body
    passes it, so the assessment-logs pass parses only the bodies that do."""
    return F.coalesce(raw.contains("assessments") | raw.contains("\\u"), F.lit(False))


def feedback_candidates(df: DataFrame) -> DataFrame:
    """The rows whose request body :func:`may_hold_feedback`."""
    return df.where(may_hold_feedback(F.col("request_raw")))


def classify_rows(normalized: DataFrame, repeated=None, feedback_only: bool = False) -> DataFrame:
    """Every distinct row of a normalized payload frame with its request body parsed and its
    destination (``reason`` when quarantined). ``repeated``: see
    :func:`classify.collapse_duplicates`. ``feedback_only``: only the
    :func:`feedback_candidates` among them (for the assessment-logs pass), without the response
    body when the kept rows were decided and no two rows of an id differ only in their response
    (:class:`classify.KeptRows`): then no response is read."""
    if feedback_only and isinstance(repeated, classify.KeptRows) and not repeated.narrow_ranked:
        normalized = normalized.drop(classify.RESPONSE_BODY)
    distinct = classify.collapse_duplicates(normalized, repeated)
    if feedback_only:
        distinct = distinct.transform(feedback_candidates)
    return distinct.transform(parse_requests).transform(assign_destination)


def classify_payload(payload: DataFrame, repeated=None) -> DataFrame:
    """:func:`classify_rows` of a raw payload frame."""
    return classify_rows(normalize_payload(payload), repeated)


# --- request logs: the only pass that reads response bodies ----------------------------------


@built_once
def _request_field_steps() -> list[dict[str, Column]]:
    body, record, root = F.col("request_body"), F.col("_record"), F.col("_root")
    return [
        {"_record": request.pyfunc_record(body)},
        {"_root": request.unwrap_request(body, record)},
        {"request": request.user_query(root),
         "request_shape": _body_shape(F.col("request_raw"), F.col("request_parsed"), request.request_shape(root, record)),
         "conversation_id": request.conversation_id(body, record)},
    ]


def extract_request_fields(df: DataFrame) -> DataFrame:
    return with_steps(df, _request_field_steps()).drop("_record", "_root", "request_body")


@built_once
def _response_field_steps() -> list[dict[str, Column]]:
    raw, body, stream = F.col("response_raw"), F.col("_body"), F.col("_stream")
    predicted, root, root_string, chunks = F.col("_predicted"), F.col("_root"), F.col("_root_string"), F.col("_chunks")
    found, keys, kind = F.col("_trace"), F.col("_trace_keys"), F.col("_stream_kind")
    return [
        {"_body": response.parse_response(raw), "_stream": response.is_stream(raw)},
        {"_bare": response.bare_value(raw, body),
         "_predicted": F.when(~stream, response.prediction(F.try_element_at(body, F.lit(1)))),
         "_chunks": F.when(stream, body)},
        {"_root": F.when(predicted.isNotNull(), response.predicted_item(predicted))
                   .when(~stream, F.try_element_at(body, F.lit(1))),
         "_root_string": F.coalesce(scalar_string(predicted), scalar_string(F.col("_bare"))),
         "_stream_kind": response.stream_kind(chunks)},
        {"response": response.answer(root, root_string, chunks, kind),
         "response_shape": _body_shape(raw, body.isNotNull() | F.col("_bare").isNotNull(),
                                       response.response_shape(root, root_string, kind, predicted)),
         "_trace": response.found_trace(body, root, chunks)},
        {"_trace_keys": response.trace_keys(found)},
        {"trace": response.trace_text(found, keys), "schema_version": response.trace_format(found, keys)},
    ]


def extract_response_fields(df: DataFrame) -> DataFrame:
    return with_steps(df, _response_field_steps()).drop(
        "_body", "_stream", "_bare", "_predicted", "_chunks", "_root", "_root_string", "_stream_kind", "_trace",
        "_trace_keys")


#: Columns the request-logs pass carries beside the table's, for the run's counts.
REQUEST_LOG_COUNTED = ["request_shape", "response_shape"]


def request_log_rows(classified: DataFrame) -> DataFrame:
    """The request-logs rows of the classified rows, with the shapes they were counted by."""
    rows = classified.where(F.col("destination") == classify.REQUEST_LOGS)
    derived = rows.transform(extract_request_fields).transform(extract_response_fields)
    return derived.select(*[F.col(f.name).cast(f.dataType).alias(f.name) for f in REQUEST_LOGS.fields],
                          *REQUEST_LOG_COUNTED)


def request_logs(classified: DataFrame) -> DataFrame:
    return request_log_rows(classified).select(*REQUEST_LOGS.fieldNames())


# --- assessment logs and quarantine: request bodies and narrow columns only --------------------


def assessment_logs(classified: DataFrame) -> DataFrame:
    rows = classified.where(F.col("destination") == classify.ASSESSMENT_LOGS)
    # the items are built here, for the feedback rows only (classifying needs just their count)
    exploded = rows.select("timestamp", F.explode(feedback.assessment_items(F.col("request_body"))).alias("a"))
    return exploded.select(*[
        (F.col("timestamp") if f.name == "timestamp" else F.col(f"a.{f.name}")).cast(f.dataType).alias(f.name)
        for f in ASSESSMENT_LOGS.fields
    ])


def quarantine(classified: DataFrame) -> DataFrame:
    rows = classified.where(F.col("destination") == classify.QUARANTINE)
    payload_row = restore_bodies(F.col("payload_row"), classified.schema["payload_row"].dataType)
    return rows.withColumns({
        "payload_row": payload_row_json(payload_row),
        "reason_detail": classify.reason_detail(F.col("reason")),
    }).select(*[F.col(f.name).cast(f.dataType).alias(f.name) for f in QUARANTINE.fields])


#: Each output table's frame from the classified rows.
OUTPUT_FRAMES = {"request_logs": request_logs, "assessment_logs": assessment_logs, "quarantine": quarantine}
