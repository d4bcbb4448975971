"""The two generations of the raw payload inference table (`{model}_payload`).

A table is recognised by its columns (see :data:`GENERATION_MARKERS`). Only
``databricks_request_id``, ``request`` and ``response`` are required; any other declared
column that a table lacks is read as null, and extra columns are ignored (kept in
quarantine rows only).
"""
from enum import Enum

from pyspark.sql.types import (
    ArrayType,
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


class PayloadGeneration(str, Enum):
    LEGACY = "legacy"
    GATEWAY = "gateway"


LEGACY_PAYLOAD = StructType([
    column("databricks_request_id", StringType(), "Unique per request (duplicates can occur)."),
    column("client_request_id", StringType(), "Client request id, usually null."),
    column("date", DateType(), "UTC date of the request."),
    column("timestamp_ms", LongType(), "Request time, epoch milliseconds."),
    column("status_code", IntegerType(), "HTTP status (some tables hold it as a string)."),
    column("execution_time_ms", LongType(), "Execution time in milliseconds."),
    column("request", StringType(), "Raw JSON request body."),
    column("response", StringType(), "Raw JSON response body."),
    column("sampling_fraction", DoubleType(), "Sampling fraction."),
    column("request_metadata", MapType(StringType(), StringType()), "endpoint_name, model_name, model_version."),
])

GATEWAY_PAYLOAD = StructType([
    column("databricks_request_id", StringType(), "Unique per request (duplicates can occur)."),
    column("client_request_id", StringType(), "Client request id."),
    column("request_date", DateType(), "UTC date of the request."),
    column("request_time", TimestampType(), "Request time."),
    column("status_code", IntegerType(), "HTTP status (some tables hold it as a string)."),
    column("sampling_fraction", DoubleType(), "Sampling fraction."),
    column("execution_duration_ms", LongType(), "Execution time in milliseconds."),
    column("request", StringType(), "Raw JSON request body (null when too large to log)."),
    column("response", StringType(), "Raw JSON response body (null when too large to log)."),
    column("served_entity_id", StringType(), "Which served entity answered."),
    column("logging_error_codes", ArrayType(StringType()), "e.g. MAX_REQUEST_SIZE_EXCEEDED."),
    column("requester", StringType(), "User or service principal."),
])

SCHEMAS = {PayloadGeneration.LEGACY: LEGACY_PAYLOAD, PayloadGeneration.GATEWAY: GATEWAY_PAYLOAD}

#: Columns that only one generation has; a table is of the generation it shares most with.
GENERATION_MARKERS = {
    PayloadGeneration.LEGACY: ("date", "timestamp_ms", "execution_time_ms", "request_metadata"),
    PayloadGeneration.GATEWAY: (
        "request_date", "request_time", "execution_duration_ms",
        "served_entity_id", "logging_error_codes", "requester",
    ),
}

REQUIRED_COLUMNS = ("databricks_request_id", "request", "response")
