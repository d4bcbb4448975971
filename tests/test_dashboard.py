"""The monitoring dashboard: its bundle resource passes the CLI's schema, its queries name the
production tables, and every dataset query runs on tables made by a backfill of the sample,
returning rows with the columns its widgets read."""
import json
import re
from pathlib import Path

import pytest
import yaml

from jobs.cli import main
from tests.conftest import OUTPUT_TABLES, table_config

REPO = Path(__file__).resolve().parents[1]
DASHBOARD_FILES = sorted((REPO / "dashboards").glob("*.dashboard.yml"))


def _resources() -> dict:
    found = {}
    for path in DASHBOARD_FILES:
        for name, resource in yaml.safe_load(path.read_text())["resources"]["dashboards"].items():
            found[name] = (path, resource)
    return found


def _lakeview(path: Path, resource: dict) -> dict:
    return json.loads((path.parent / resource["file_path"]).read_text())


def _queries(dashboard: dict) -> dict[str, str]:
    return {dataset["name"]: "".join(dataset["queryLines"]) for dataset in dashboard["datasets"]}


def _widget_columns(dashboard: dict) -> dict[str, set[str]]:
    """Per dataset, the columns its widgets' queries read (backticked names in their fields)."""
    columns: dict[str, set[str]] = {}
    for page in dashboard["pages"]:
        for item in page["layout"]:
            for query in item["widget"].get("queries", []):
                spec = query["query"]
                for field in spec["fields"]:
                    columns.setdefault(spec["datasetName"], set()).update(re.findall(r"`(\w+)`", field["expression"]))
    return columns


def _tables(sql: str) -> set[str]:
    return set(re.findall(r"\b(?:FROM|JOIN)\s+(\w+)", sql, flags=re.IGNORECASE))


def test_the_dashboard_passes_the_cli_schema_and_is_deployed_with_the_bundle():
    from databricks.bundles.dashboards import Dashboard

    bundle = yaml.safe_load((REPO / "databricks.yml").read_text())
    assert "dashboards/*.dashboard.yml" in bundle["include"]
    assert "warehouse_id" in bundle["variables"]
    resources = _resources()
    assert resources
    for path, resource in resources.values():
        Dashboard.from_dict(resource)   # raises on an unknown key or a wrong type
        # parameterised by the deploy target, like the jobs
        assert (resource["dataset_catalog"], resource["dataset_schema"]) == ("${var.catalog}", "${var.schema}")
        assert (path.parent / resource["file_path"]).is_file()


def test_every_widget_reads_a_declared_dataset_and_the_queries_name_the_production_tables():
    production = yaml.safe_load((REPO / "conf" / "production.yaml").read_text())["tables"]
    names = {value.rsplit(".", 1)[-1] for value in production.values()}
    for path, resource in _resources().values():
        dashboard = _lakeview(path, resource)
        queries = _queries(dashboard)
        assert set(_widget_columns(dashboard)) <= set(queries)
        for sql in queries.values():
            assert _tables(sql) and _tables(sql) <= names, sql


@pytest.mark.e2e
def test_every_dataset_query_runs_on_the_tables_of_a_sample_backfill(spark, tmp_path):
    production = yaml.safe_load((REPO / "conf" / "production.yaml").read_text())["tables"]
    derived = [*OUTPUT_TABLES, "request_details", "assessment_logs_latest"]
    config = table_config(tmp_path, derived, f"sample_data:\n  table: {tmp_path}/payload\n  rows: 600\n")
    assert main(["backfill", "--config", str(config)]) == 0

    # the production table names, in a schema of their own, as the dashboard's datasets see them
    database = "dashboard_test"
    spark.sql(f"CREATE DATABASE {database} LOCATION '{tmp_path}/warehouse'")
    try:
        for key in derived:
            name = production[key].rsplit(".", 1)[-1]
            spark.sql(f"CREATE TABLE {database}.{name} USING DELTA LOCATION '{tmp_path}/{key}'")
        spark.sql(f"USE {database}")
        for path, resource in _resources().values():
            dashboard = _lakeview(path, resource)
            wanted = _widget_columns(dashboard)
            for name, sql in _queries(dashboard).items():
                result = spark.sql(sql)
                assert wanted[name] <= set(result.columns), name
                rows = result.collect()
                assert rows, f"dataset {name} returned no rows on the sample"
                # every column a widget reads holds a value in some row
                assert all(any(row[column] is not None for row in rows) for column in wanted[name]), name
    finally:
        spark.sql("USE default")
        spark.sql(f"DROP DATABASE {database} CASCADE")
