"""Review-app feedback rows: detection, decoding, and one typed assessment per rating
(payload-formats.md §5). Records are REQUEST_RECORD structs of the parsed request body.

``source``, ``text_assessments`` and ``retrieval_assessments`` may be JSON values or JSON-encoded
strings of them; both decode the same way. A single assessment object (not in a list) counts as a
list of one.
"""
from pyspark.sql import Column
from pyspark.sql import functions as F
from pyspark.sql.types import StructType

from pipelines.transforms.json_values import as_array, get, is_number, is_object, present, scalar_string
from schemas.assessment_logs import ASSESSMENT_LOGS, RETRIEVAL_ASSESSMENT, TEXT_ASSESSMENT

#: One assessment as carried per payload row, before the row's timestamp is added.
ASSESSMENT_ITEM = StructType([field for field in ASSESSMENT_LOGS.fields if field.name != "timestamp"])


def feedback_records(body: Column) -> Column:
    return body["dataframe_records"]


def _carries_assessments(record: Column) -> Column:
    return present(record["text_assessments"]) | present(record["retrieval_assessments"])


def is_feedback(body: Column) -> Column:
    """A row is feedback when any record carries text or retrieval assessments."""
    return F.coalesce(F.exists(feedback_records(body), _carries_assessments), F.lit(False))


def _decode(value: Column) -> Column:
    """A value sent as JSON, or as a JSON-encoded string of it."""
    return F.coalesce(F.try_parse_json(scalar_string(value)), value)


def _assessment_list(value: Column) -> Column:
    decoded = _decode(value)
    return F.coalesce(as_array(decoded), F.when(is_object(decoded), F.array(decoded)))


def _source(record: Column) -> Column:
    return _decode(record["source"])


def _record_is_undecodable(record: Column) -> Column:
    def undecodable_list(name: str) -> Column:
        value = record[name]
        return present(value) & _assessment_list(value).isNull()

    source = record["source"]
    return (
        undecodable_list("text_assessments")
        | undecodable_list("retrieval_assessments")
        | (present(source) & ~is_object(_source(record)))
    )


def _rating(rating: Column) -> Column:
    """{value, rationale} -> struct<value, double_value, rationale>; a bare value is accepted.
    Booleans become 'true'/'false'; only JSON numbers fill double_value."""
    value = F.when(is_object(rating), get(rating, "$.value")).otherwise(rating)
    return F.struct(
        get(value, "$", "string").alias("value"),
        F.when(is_number(value), get(value, "$", "double")).alias("double_value"),
        get(rating, "$.rationale", "string").alias("rationale"),
    )


def _ratings(assessment: Column) -> Column:
    return F.transform_values(get(assessment, "$.ratings", "map<string,variant>"), lambda _, r: _rating(r))


def _source_struct(record: Column) -> Column:
    source = _source(record)
    return F.struct(
        get(source, "$.type", "string").alias("type"),
        get(source, "$.id", "string").alias("id"),
        get(source, "$.tags", "map<string,string>").alias("tags"),
    )


def _text_item(record: Column, assessment: Column) -> Column:
    text = F.struct(
        get(assessment, "$.step_id", "string").alias("step_id"),
        _ratings(assessment).alias("ratings"),
        get(assessment, "$.free_text_comment", "string").alias("free_text_comment"),
        get(assessment, "$.suggested_output", "string").alias("suggested_output"),
    ).cast(TEXT_ASSESSMENT)
    return _item(record, assessment, text, F.lit(None).cast(RETRIEVAL_ASSESSMENT))


def _retrieval_item(record: Column, assessment: Column) -> Column:
    retrieval = F.struct(
        get(assessment, "$.position", "int").alias("position"),
        get(assessment, "$.step_id", "string").alias("step_id"),
        _ratings(assessment).alias("ratings"),
        get(assessment, "$.free_text_comment", "string").alias("free_text_comment"),
    ).cast(RETRIEVAL_ASSESSMENT)
    return _item(record, assessment, F.lit(None).cast(TEXT_ASSESSMENT), retrieval)


def _item(record: Column, assessment: Column, text: Column, retrieval: Column) -> Column:
    return F.struct(
        record["request_id"].alias("request_id"),
        F.coalesce(get(assessment, "$.step_id", "string"), record["step_id"]).alias("step_id"),
        _source_struct(record).alias("source"),
        text.alias("text_assessment"),
        retrieval.alias("retrieval_assessment"),
    ).cast(ASSESSMENT_ITEM)


def _record_items(record: Column) -> Column:
    empty = F.array().cast(f"array<{ASSESSMENT_ITEM.simpleString()}>")
    texts = F.transform(_assessment_list(record["text_assessments"]), lambda a: _text_item(record, a))
    retrievals = F.transform(_assessment_list(record["retrieval_assessments"]), lambda a: _retrieval_item(record, a))
    return F.concat(F.coalesce(texts, empty), F.coalesce(retrievals, empty))


def assessment_items(body: Column) -> Column:
    """Every assessment of every record of a feedback body, as array<ASSESSMENT_ITEM>."""
    return F.flatten(F.transform(feedback_records(body), _record_items))


def _record_assessment_count(record: Column) -> Column:
    def count(name: str) -> Column:
        found = _assessment_list(record[name])
        return F.when(found.isNull(), F.lit(0)).otherwise(F.size(found))

    return count("text_assessments") + count("retrieval_assessments")


def assessment_count(body: Column) -> Column:
    """How many items :func:`assessment_items` gives for a feedback body, without building
    them: the classification of every row needs the count, only the assessment-logs pass the items."""
    return F.aggregate(feedback_records(body), F.lit(0), lambda total, record: total + _record_assessment_count(record))


def feedback_problem(body: Column, count: Column) -> Column:
    """The quarantine reason of a feedback row whose assessments cannot all be derived, or null.
    ``count`` is :func:`assessment_count` of the same body."""
    records = feedback_records(body)
    return (
        F.when(F.exists(records, _record_is_undecodable), F.lit("feedback_not_decodable"))
        .when(count == 0, F.lit("feedback_without_assessments"))
        .when(F.exists(records, lambda record: (F.coalesce(F.trim(record["request_id"]), F.lit("")) == "")
                       & (_record_assessment_count(record) > 0)),
              F.lit("feedback_missing_request_id"))
    )
