"""`{model}_payload_request_logs`: one row per request (the vendor's documented schema)."""
from pyspark.sql.types import (
    DateType,
    DoubleType,
    IntegerType,
    LongType,
    MapType,
    StringType,
    StructType,
    TimestampType,
)

from schemas.fields import column

REQUEST_LOGS = StructType([
    column("client_request_id", StringType(), "Client request id, usually null."),
    column("databricks_request_id", StringType(), "Databricks request id (the row's key)."),
    column("date", DateType(), "Request date (UTC); the table is partitioned by it."),
    column("timestamp_ms", LongType(), "Request time in epoch milliseconds."),
    column("timestamp", TimestampType(), "Request time."),
    column("status_code", IntegerType(), "Status code returned by the endpoint."),
    column("execution_time_ms", LongType(), "Total execution time in milliseconds."),
    column("conversation_id", StringType(), "databricks_options.conversation_id, else context.conversation_id."),
    column("request", StringType(), "The last user query of the conversation.", long_text=True),
    column("response", StringType(), "The last answer to the user.", long_text=True),
    column("request_raw", StringType(), "The request body, unchanged.", long_text=True),
    column("response_raw", StringType(), "The response body, unchanged.", long_text=True),
    column("trace", StringType(), "JSON text of databricks_output.trace.", long_text=True),
    column("sampling_fraction", DoubleType(), "Sampling fraction."),
    column("request_metadata", MapType(StringType(), StringType()), "Endpoint metadata (legacy) or served_entity_id, requester, logging_error_codes (AI Gateway)."),
    column("schema_version", StringType(), "Trace format of the row: 0 none, 1 steps, 2 spans, 3 MLflow trace."),
])

KEY = "databricks_request_id"
PARTITION_COLUMN = "date"
