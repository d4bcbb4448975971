"""The request-logs rows: one per distinct request that is not feedback, whatever its status,
with the last user query, the answer, the trace and their shapes (schemas/request_logs.py)."""
from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from pipelines.rules.classify import REQUEST_LOGS
from pipelines.transforms.rules_per_batch import REQUEST_LOG_FIELDS, request_log_batches, trace_column, with_fields
from schemas.request_logs import REQUEST_LOGS as REQUEST_LOGS_SCHEMA

#: Columns the request-logs rows carry beside the table's, for the run's counts.
COUNTED = ["request_shape", "response_shape"]


def derive_request_logs(collapsed: DataFrame) -> DataFrame:
    """Every distinct payload row (normalized, one per request id) classified, with the
    request-logs fields of the request-logs rows: the rules applied per Arrow batch."""
    columns = collapsed.drop("payload_row")
    return columns.mapInArrow(request_log_batches, with_fields(columns.schema, REQUEST_LOG_FIELDS))


def request_log_rows(derived: DataFrame) -> DataFrame:
    """The request-logs table's rows of derived rows (:func:`derive_request_logs`), with the
    shapes they are counted by (:data:`COUNTED`)."""
    rows = derived.where(F.col("destination") == REQUEST_LOGS).withColumn("trace", trace_column())
    return rows.select(*[F.col(f.name).cast(f.dataType).alias(f.name) for f in REQUEST_LOGS_SCHEMA.fields], *COUNTED)
