"""One local SparkSession with Delta Lake for the whole suite (small shuffles, no UI)."""
import datetime as dt
import json
import os
import sys

import pytest

from pipelines.io.spark_session import get_spark
from schemas.payload import GATEWAY_PAYLOAD, LEGACY_PAYLOAD


@pytest.fixture(scope="session")
def spark():
    # Python workers (the benchmark's UDF baseline) run this interpreter, the one with the project.
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    session = get_spark(master="local[2]", app_name="inference-logs-tests",
                        conf={"spark.sql.shuffle.partitions": "2", "spark.default.parallelism": "2"})
    yield session
    session.stop()


def as_text(body):
    """A body as the payload table holds it: JSON text (strings pass through unchanged)."""
    return body if body is None or isinstance(body, str) else json.dumps(body)


DAY = dt.date(2025, 12, 1)
NOON = dt.datetime(2025, 12, 1, 12, 0, tzinfo=dt.timezone.utc)


def gateway_row(request_id, request, response, status=200, when=NOON, **extra):
    row = {"databricks_request_id": request_id, "client_request_id": None, "request_date": when.date(),
           "request_time": when, "status_code": status, "sampling_fraction": 1.0, "execution_duration_ms": 100,
           "request": as_text(request), "response": as_text(response), "served_entity_id": "agent-1",
           "logging_error_codes": None, "requester": "user@company.com"}
    row.update(extra)
    return row


def legacy_row(request_id, request, response, status=200, when=NOON, **extra):
    row = {"databricks_request_id": request_id, "client_request_id": None, "date": when.date(),
           "timestamp_ms": int(when.timestamp() * 1000), "status_code": status, "execution_time_ms": 100,
           "request": as_text(request), "response": as_text(response), "sampling_fraction": 1.0,
           "request_metadata": {"endpoint_name": "ep", "model_name": "m", "model_version": "1"}}
    row.update(extra)
    return row


@pytest.fixture
def gateway_payload(spark):
    def make(rows):
        return spark.createDataFrame(rows, GATEWAY_PAYLOAD)
    return make


@pytest.fixture
def legacy_payload(spark):
    def make(rows):
        return spark.createDataFrame(rows, LEGACY_PAYLOAD)
    return make
