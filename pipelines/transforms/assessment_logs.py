"""The assessment-logs rows: every assessment of every record of a feedback row, one row each
(schemas/assessment_logs.py)."""
from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from pipelines.transforms.feedback import assessment_items
from schemas.assessment_logs import ASSESSMENT_LOGS


def assessment_log_rows(feedback_rows: DataFrame) -> DataFrame:
    """The assessments of parsed feedback rows (``request_body``, ``timestamp``)."""
    exploded = feedback_rows.select("timestamp", F.explode(assessment_items(F.col("request_body"))).alias("a"))
    return exploded.select(*[
        (F.col("timestamp") if f.name == "timestamp" else F.col(f"a.{f.name}")).cast(f.dataType).alias(f.name)
        for f in ASSESSMENT_LOGS.fields
    ])
