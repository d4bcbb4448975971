"""The jobs' own state tables: run leases (one run at a time) and hourly batch reports."""
from pyspark.sql.types import BooleanType, LongType, StringType, StructType, TimestampType

from schemas.fields import column

RUN_LEASES = StructType([
    column("lease", StringType(), "What the lease guards: the request-logs table the run writes."),
    column("run_id", StringType(), "The run that asked: one row per take, renewal and release of the lease."),
    column("job", StringType(), "backfill or hourly."),
    column("holder", StringType(), "Where the run started (host and process), for people reading the table."),
    column("acquired_at", TimestampType(), "When the run asked; a run's latest row says whether it holds the lease."),
    column("expires_at", TimestampType(), "When the ask expires: then another run may take the lease over, unless "
                                          "it was renewed; a release has already expired."),
])

BATCH_REPORTS = StructType([
    column("run_id", StringType(), "The hourly run."),
    column("batch_id", LongType(), "The micro-batch of the run's stream."),
    column("recorded_at", TimestampType(), "When the batch finished its writes."),
    column("ok", BooleanType(), "Whether the batch's counts balanced and every check passed."),
    column("report", StringType(), "The batch's run report as JSON (counts, shapes, checks, dates)."),
])
