"""The latest-feedback table (optional, ``tables.assessment_logs_latest``): the latest rating per
rater and target, kept after every run (:mod:`pipelines.transforms.latest_feedback`)."""
from __future__ import annotations

from pyspark.sql import SparkSession
from pyspark.sql import functions as F

from pipelines.config import Settings
from pipelines.io import delta_tables
from pipelines.io.delta_tables import TableLocation
from pipelines.runs.outputs import OutputTables
from pipelines.transforms.latest_feedback import latest_assessments, latest_merge_sql
from schemas.tables import ASSESSMENT_LOGS_LATEST


def refresh_latest_feedback(spark: SparkSession, settings: Settings, outputs: OutputTables, dates) -> None:
    """Keep the latest-feedback table: with ``dates`` (an hourly run), merge in the latest ratings
    of those dates only, so the cost follows the new feedback; else (a backfill, which may
    remove ratings) rebuild it from the whole assessment logs."""
    if not settings.tables.assessment_logs_latest:
        return
    location = TableLocation(settings.tables.assessment_logs_latest)
    exists = delta_tables.check_table(spark, location, ASSESSMENT_LOGS_LATEST.schema)
    if not exists:  # made as declared (its clustering), then filled
        delta_tables.create_declared(spark, location, ASSESSMENT_LOGS_LATEST)
    assessments = delta_tables.read_table(spark, outputs["assessment_logs"])
    if dates is None or not exists:
        delta_tables.replace_where(latest_assessments(assessments), location, None)
    elif dates:
        batch = assessments.where(F.to_date("timestamp").isin(dates))
        on, update_when = latest_merge_sql(assessments.columns)
        delta_tables.merge_into(latest_assessments(batch), location, on, update_when)
