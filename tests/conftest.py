"""One SparkSession with Delta Lake for the whole suite (small shuffles, no UI).

``pytest`` runs it on a local classic session. ``pytest --connect`` starts a local Spark
Connect server once (tests/connect_server.py), points every session, in this process and in
the jobs' subprocesses, at it through SPARK_REMOTE, and enforces serverless's rules on the
client: ``persist``/``cache`` and setting a Spark conf outside the runtime allow-list fail.
"""
import datetime as dt
import json
import os
import sys

import pytest

from pipelines.io.spark_session import RUNTIME_SETTABLE, get_spark
from schemas.payload import GATEWAY_PAYLOAD, LEGACY_PAYLOAD

_SERVER = None


def pytest_addoption(parser):
    parser.addoption("--connect", action="store_true",
                     help="run through a local Spark Connect server (start it, set SPARK_REMOTE)")


def _enforce_serverless_rules() -> None:
    from pyspark.sql.connect.conf import RuntimeConf
    from pyspark.sql.connect.dataframe import DataFrame

    def no_caching(self, *args, **kwargs):
        raise AssertionError("persist/cache is not available on serverless compute")

    allowed_set = RuntimeConf.set

    def set_allowed(self, key, value):
        if key not in RUNTIME_SETTABLE:
            raise AssertionError(f"serverless compute refuses to set {key} at runtime")
        return allowed_set(self, key, value)

    DataFrame.persist = DataFrame.cache = no_caching
    RuntimeConf.set = set_allowed


def pytest_configure(config):
    global _SERVER
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)  # Python workers run this interpreter
    if config.getoption("--connect"):
        from tests.connect_server import ConnectServer

        _SERVER = ConnectServer().start()
        os.environ["SPARK_REMOTE"] = _SERVER.url
        _enforce_serverless_rules()


def pytest_collection_modifyitems(config, items):
    """Tests that compare Spark Connect with classic belong to the Connect pass only."""
    if _SERVER is None:
        kept = [item for item in items if item.get_closest_marker("connect_only") is None]
        if len(kept) < len(items):
            config.hook.pytest_deselected(items=[item for item in items if item not in kept])
            items[:] = kept


def pytest_unconfigure(config):
    if _SERVER is not None:
        _SERVER.stop()


def pytest_report_header(config):
    return f"Spark Connect server: {_SERVER.url} (log {_SERVER.log})" if _SERVER else "classic local Spark"


@pytest.fixture(scope="session")
def connect_mode() -> bool:
    return _SERVER is not None


@pytest.fixture(scope="session")
def spark():
    session = get_spark(master="local[2]", app_name="inference-logs-tests",
                        conf={"spark.sql.shuffle.partitions": "2", "spark.default.parallelism": "2"})
    yield session
    session.stop()


def as_text(body):
    """A body as the payload table holds it: JSON text (strings pass through unchanged)."""
    return body if body is None or isinstance(body, str) else json.dumps(body)


#: The three output tables every config names.
OUTPUT_TABLES = ("request_logs", "assessment_logs", "quarantine")


def table_config(root, tables=OUTPUT_TABLES, extra: str = ""):
    """A config file under ``root`` whose ``tables`` (their keys) are Delta tables under ``root``,
    each in a directory of its key's name; ``extra``: more YAML (a state or sample_data section)."""
    path = root / "conf.yaml"
    path.write_text("environment: test\ntables:\n" + "".join(f"  {name}: {root}/{name}\n" for name in tables) + extra)
    return path


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
