"""`{model}_payload_run_history`: one row per run of a job, with its reconciliation."""
from pyspark.sql.types import (
    BooleanType,
    LongType,
    MapType,
    StringType,
    StructType,
    TimestampType,
)

from schemas.fields import column

COUNTS = MapType(StringType(), LongType())

RUN_HISTORY = StructType([
    column("run_id", StringType(), "Unique id of the run."),
    column("job", StringType(), "backfill or hourly."),
    column("started_at", TimestampType(), "When the run started."),
    column("ended_at", TimestampType(), "When the run ended."),
    column("status", StringType(), "succeeded, failed, or reconciliation_failed."),
    column("source", StringType(), "What was read: the payload table and the date range or table versions."),
    column("rows_read", LongType(), "Payload rows read."),
    column("rows_written", COUNTS, "Rows derived per output table (request_logs, assessment_logs, quarantine)."),
    column("quarantined", COUNTS, "Quarantined rows per reason."),
    column("duplicates_collapsed", LongType(), "Rows collapsed into another with the same request id."),
    column("balanced", BooleanType(), "rows_read = request logs + feedback rows + quarantined + duplicates."),
    column("checks", MapType(StringType(), BooleanType()), "Each reconciliation check against the written tables."),
    column("error", StringType(), "The error of a failed run."),
    column("report", StringType(), "The whole run report as JSON."),
])
