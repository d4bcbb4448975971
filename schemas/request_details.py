"""`{model}_payload_request_details`: one row per request-logs row, with what dashboards and
evaluation sets read out of the bodies and the trace (token usage, retrieved documents, tool
calls). This project's own table, written only when ``tables.request_details`` is set."""
from pyspark.sql.types import (
    ArrayType,
    BooleanType,
    DateType,
    DoubleType,
    IntegerType,
    LongType,
    StringType,
    StructField,
    StructType,
    TimestampType,
)

from schemas.fields import column

RETRIEVED_DOCUMENT = StructType([
    StructField("doc_uri", StringType()),
    StructField("content", StringType()),
    StructField("score", DoubleType()),
])

REQUEST_DETAILS = StructType([
    column("databricks_request_id", StringType(), "Databricks request id, as in the request logs."),
    column("date", DateType(), "Request date (UTC), as in the request logs; the table is partitioned by it."),
    column("timestamp", TimestampType(), "Request time."),
    column("timestamp_ms", LongType(), "Request time in epoch milliseconds."),
    column("status_code", IntegerType(), "Status code returned by the endpoint."),
    column("execution_time_ms", LongType(), "Total execution time in milliseconds."),
    column("endpoint_name", StringType(), "request_metadata.endpoint_name (legacy tables; null on AI Gateway tables)."),
    column("served_entity", StringType(), "Which served entity or model version answered: served_entity_id (AI Gateway), "
                                          "else model_name/model_version (legacy)."),
    column("prompt_tokens", LongType(), "Input tokens, as logged (null when none is logged)."),
    column("completion_tokens", LongType(), "Output tokens, as logged (null when none is logged)."),
    column("total_tokens", LongType(), "Total tokens, as logged (null when none is logged; never computed)."),
    column("token_usage_source", StringType(), "Where the token counts were read: response, stream, trace or "
                                               "trace_spans; null when none is logged."),
    column("retrieved_documents", ArrayType(RETRIEVED_DOCUMENT),
           "Documents the trace's retrievers returned, in trace order (empty when none; null without a trace "
           "that can be read).", long_text=True),
    column("tool_calls", IntegerType(), "Tool calls in the response (null when the response is not logged or not JSON)."),
    column("request_too_large", BooleanType(), "The request body was too large to log (MAX_REQUEST_SIZE_EXCEEDED)."),
    column("response_too_large", BooleanType(), "The response body was too large to log (MAX_RESPONSE_SIZE_EXCEEDED)."),
])
