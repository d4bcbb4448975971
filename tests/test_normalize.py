"""Generation detection and normalisation of both payload generations."""
import datetime as dt

import pytest
from chispa import assert_df_equality
from pyspark.sql import functions as F

from pipelines.transforms.normalize import PayloadSchemaError, detect_generation, normalize_payload
from schemas.payload import PayloadGeneration
from tests.conftest import NOON, gateway_row, legacy_row

COMMON = ["databricks_request_id", "date", "timestamp_ms", "timestamp", "status_code", "execution_time_ms"]


@pytest.mark.parametrize("columns,generation", [
    (["databricks_request_id", "request", "response", "date", "timestamp_ms", "execution_time_ms"], PayloadGeneration.LEGACY),
    (["databricks_request_id", "request", "response", "request_date", "request_time", "served_entity_id"],
     PayloadGeneration.GATEWAY),
])
def test_detect_generation(columns, generation):
    assert detect_generation(columns) is generation


@pytest.mark.parametrize("columns,message", [
    (["request", "response", "date"], "databricks_request_id"),
    (["databricks_request_id", "request", "response", "foo"], "cannot tell the payload generation"),
])
def test_detect_generation_errors_name_the_problem(columns, message):
    with pytest.raises(PayloadSchemaError, match=message):
        detect_generation(columns)


def test_both_generations_normalise_to_the_same_values(gateway_payload, legacy_payload):
    legacy = normalize_payload(legacy_payload([legacy_row("a", "{}", "{}")])).select(*COMMON)
    gateway = normalize_payload(gateway_payload([gateway_row("a", "{}", "{}")])).select(*COMMON)
    assert_df_equality(legacy, gateway, ignore_nullable=True)
    row = legacy.first()
    assert (row["date"], row["timestamp_ms"], row["timestamp"].replace(tzinfo=dt.timezone.utc)) == (
        NOON.date(), int(NOON.timestamp() * 1000), NOON)


def test_gateway_metadata_map(gateway_payload):
    rows = [gateway_row("a", "{}", "{}", logging_error_codes=["MAX_REQUEST_SIZE_EXCEEDED", "X"], requester=None)]
    meta = normalize_payload(gateway_payload(rows)).first()["request_metadata"]
    assert meta == {"served_entity_id": "agent-1", "logging_error_codes": "MAX_REQUEST_SIZE_EXCEEDED,X"}


def test_status_code_as_string_and_missing_columns(spark):
    df = spark.createDataFrame(
        [("a", "200", 1733054400000, "{}", "{}"), ("b", " 503 ", 1733054400000, "{}", "{}"), ("c", "oops", 1, "{}", "{}")],
        "databricks_request_id string, status_code string, timestamp_ms bigint, request string, response string")
    out = normalize_payload(df).orderBy("databricks_request_id").select(
        "status_code", "status_code_raw", "execution_time_ms", F.col("date").isNotNull().alias("has_date"))
    assert [tuple(r) for r in out.collect()] == [(200, "200", None, True), (503, " 503 ", None, True),
                                                 (None, "oops", None, True)]
