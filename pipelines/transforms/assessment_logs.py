"""The assessment-logs rows: every assessment of every record of a feedback row, one row each
(schemas/assessment_logs.py)."""
from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from pipelines.rules.classify import ASSESSMENT_LOGS
from pipelines.transforms.duplicates import COLLAPSED
from pipelines.transforms.normalize import CLASSIFIED_COLUMNS
from pipelines.transforms.rules_per_batch import ASSESSMENT_FIELDS, assessment_batches, with_fields
from schemas.assessment_logs import ASSESSMENT_LOGS as ASSESSMENT_LOGS_SCHEMA


def may_hold_feedback(raw: Column) -> Column:
    """Whether a request body may hold feedback: it names ``..._assessments`` (both feedback keys
    do), or it has a ``\\u`` escape (which could spell such a key). A cheap text search that every
    feedback body passes, so that only these bodies go to the rules. (Both searched texts start
    with a rare character: a search for ``assessments`` stopped at every ``a``.)"""
    return F.coalesce(raw.contains("_assessments") | raw.contains("\\u"), F.lit(False))


def derive_feedback(collapsed: DataFrame) -> DataFrame:
    """The distinct payload rows whose request may hold feedback (:func:`may_hold_feedback`),
    classified, with the assessments of the feedback rows: the rules applied per Arrow batch."""
    candidates = collapsed.where(may_hold_feedback(F.col("request_raw"))).select(*CLASSIFIED_COLUMNS, COLLAPSED)
    return candidates.mapInArrow(assessment_batches, with_fields(candidates.schema, ASSESSMENT_FIELDS))


def assessment_log_rows(derived: DataFrame) -> DataFrame:
    """The assessment-logs table's rows of derived rows (:func:`derive_feedback`): one per
    assessment, each with its feedback row's timestamp."""
    exploded = derived.where(F.col("destination") == ASSESSMENT_LOGS).select(
        "timestamp", F.explode("assessments").alias("a"))
    return exploded.select(*[
        (F.col("timestamp") if f.name == "timestamp" else F.col(f"a.{f.name}")).cast(f.dataType).alias(f.name)
        for f in ASSESSMENT_LOGS_SCHEMA.fields
    ])
