"""`{model}_payload_quarantine`: payload rows that could not be derived, with a reason
(:mod:`schemas.reasons`)."""
from pyspark.sql.types import DateType, IntegerType, StringType, StructType, TimestampType

from schemas.fields import column

QUARANTINE = StructType([
    column("date", DateType(), "Payload date of the row (null when the row has none)."),
    column("timestamp", TimestampType(), "Payload request time of the row."),
    column("databricks_request_id", StringType(), "The row's request id (null when missing)."),
    column("status_code", IntegerType(), "The row's status code, as an integer."),
    column("reason", StringType(), "Reason code, one of the documented quarantine reasons."),
    column("reason_detail", StringType(), "The reason in words, with what to do about it."),
    column("payload_row", StringType(), "The payload row as JSON, every column but the response body (which the payload table keeps).",
           long_text=True),
])

PARTITION_COLUMN = "date"
