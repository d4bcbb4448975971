"""`{model}_payload_assessment_logs`: one row per assessment (the vendor's documented schema)."""
from pyspark.sql.types import (
    DoubleType,
    IntegerType,
    MapType,
    StringType,
    StructField,
    StructType,
    TimestampType,
)

from schemas.fields import column

RATING = StructType([
    StructField("value", StringType()),
    StructField("double_value", DoubleType()),
    StructField("rationale", StringType()),
])

RATINGS = MapType(StringType(), RATING)

SOURCE = StructType([
    StructField("type", StringType()),
    StructField("id", StringType()),
    StructField("tags", MapType(StringType(), StringType())),
])

TEXT_ASSESSMENT = StructType([
    StructField("step_id", StringType()),
    StructField("ratings", RATINGS),
    StructField("free_text_comment", StringType()),
    StructField("suggested_output", StringType()),
])

RETRIEVAL_ASSESSMENT = StructType([
    StructField("position", IntegerType()),
    StructField("step_id", StringType()),
    StructField("ratings", RATINGS),
    StructField("free_text_comment", StringType()),
])

ASSESSMENT_LOGS = StructType([
    column("request_id", StringType(), "databricks_request_id of the rated request."),
    column("step_id", StringType(), "Step rated: the assessment's step_id, else the record's."),
    column("source", SOURCE, "Who rated: type, id, tags."),
    column("timestamp", TimestampType(), "Time of the feedback request; the table is clustered by it."),
    column("text_assessment", TEXT_ASSESSMENT, "Feedback on the answer (null on retrieval rows)."),
    column("retrieval_assessment", RETRIEVAL_ASSESSMENT, "Feedback on a retrieved chunk (null on text rows)."),
])

CLUSTER_COLUMN = "timestamp"
