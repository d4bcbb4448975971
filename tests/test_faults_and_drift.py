"""Faults and schema drift, end to end on temporary Delta tables: processes killed mid-run,
unusable sources and targets, payload schemas that change, bodies at the logging limits, and
the read-only ``check`` command."""
import datetime as dt
import json
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from pyspark.sql import functions as F

from jobs.cli import main
from pipelines.samples import sample_payloads as sp
from pipelines.io.delta_tables import TableLocation, append, read_table, table_version, write_table
from pipelines.io.run_lease import RunLease
from pipelines.runs.backfill import run_backfill
from pipelines.runs.hourly import nothing_new, run_hourly
from pipelines.runs.dates import DateRange
from schemas.payload import GATEWAY_PAYLOAD, PayloadGeneration
from schemas.run_state import RUN_LEASES
from tests.conftest import gateway_row
from tests.test_hourly_job import OUTPUTS, make_config, payload, snapshot

pytestmark = pytest.mark.e2e
REPO = Path(__file__).resolve().parents[1]


def versions(spark, settings):
    return {name: table_version(spark, TableLocation(getattr(settings.tables, name))) for name in OUTPUTS}


def cli(settings_dir, *args):
    return main([args[0], "--config", str(settings_dir / "conf.yaml"), *args[1:]])


# --- processes killed at several points ------------------------------------------------------

@pytest.fixture(scope="module")
def three_commits():
    """Payload rows arriving in three commits (the second and third hold late and repeated rows)."""
    rows = sp.payload_rows(240, seed=31, malformed_share=0.05)
    return [rows[:100], rows[100:180] + rows[:3], rows[180:]]


@pytest.fixture(scope="module")
def clean_tables(spark, tmp_path_factory, three_commits):
    root = tmp_path_factory.mktemp("clean")
    settings = make_config(root)
    write_table(payload(spark, sum(three_commits, [])), TableLocation(settings.tables.payload))
    assert run_backfill(spark, settings, DateRange()).ok
    return snapshot(spark, settings)


@pytest.mark.parametrize("job, table, occurrence", [
    ("hourly", "request_logs", 2),     # inside the second micro-batch, after its first write
    ("hourly", "quarantine", 3),       # after every write of the third batch, before its checkpoint
    ("backfill", "assessment_logs", 1),  # between the replaced ranges of two tables
])
def test_a_killed_process_then_a_rerun_equals_a_clean_run(spark, tmp_path, three_commits, clean_tables,
                                                          job, table, occurrence):
    # short leases: the retry takes the dead run's lease over once it expires
    settings = make_config(tmp_path, state_extra="  max_files_per_batch: 1\n  lease_seconds: 6\n"
                                                 "  lock_wait_seconds: 120\n")
    for commit in three_commits:
        append(payload(spark, commit), TableLocation(settings.tables.payload))

    killed = subprocess.run([sys.executable, "-m", "tests.kill_during_run", str(tmp_path / "conf.yaml"), job, table,
                             str(occurrence)], cwd=REPO, capture_output=True, text=True, timeout=600)
    assert killed.returncode == -signal.SIGKILL, killed.stderr[-2000:]
    dead = read_table(spark, TableLocation(settings.state.lock)).collect()
    # the dead run's lease is still there: its claim and renewals, never released
    assert {r["job"] for r in dead} == {job} and len({r["run_id"] for r in dead}) == 1
    assert all(r["expires_at"] > r["acquired_at"] for r in dead)

    rerun = run_hourly(spark, settings) if job == "hourly" else run_backfill(spark, settings, DateRange())
    assert rerun.ok
    assert snapshot(spark, settings) == clean_tables
    if job == "hourly":  # once the batches of one file each are all committed, the next run has nothing to do
        assert nothing_new(spark, settings) == f"{settings.tables.payload}: no new data (version 2)"


# --- unusable sources, targets, checkpoints ---------------------------------------------------

def test_a_target_that_is_not_delta_is_refused_and_nothing_is_created(spark, tmp_path, capsys):
    settings = make_config(tmp_path)
    write_table(payload(spark, sp.payload_rows(20, seed=1)), TableLocation(settings.tables.payload))
    spark.range(3).write.parquet(settings.tables.quarantine)

    assert cli(tmp_path, "hourly") == 2
    err = capsys.readouterr().err
    assert "quarantine" in err and "is not a Delta table" in err and "CONVERT TO DELTA" in err
    assert not Path(settings.tables.request_logs).exists()  # checked before anything was created
    assert spark.read.parquet(settings.tables.quarantine).count() == 3


def test_an_output_table_with_an_older_schema_is_refused_untouched(spark, tmp_path, capsys):
    settings = make_config(tmp_path)
    write_table(payload(spark, sp.payload_rows(20, seed=1)), TableLocation(settings.tables.payload))
    assert run_hourly(spark, settings).ok
    logs = TableLocation(settings.tables.request_logs)
    # as an earlier release might have created it (without this release's table properties)
    older = read_table(spark, logs).drop("schema_version").localCheckpoint()
    shutil.rmtree(logs.value)
    write_table(older, logs)
    before = table_version(spark, logs)

    assert cli(tmp_path, "backfill") == 2
    err = capsys.readouterr().err
    assert "missing columns schema_version" in err and "nothing was written" in err
    assert table_version(spark, logs) == before


def test_a_checkpoint_from_another_payload_table_is_refused(spark, tmp_path, capsys):
    settings = make_config(tmp_path)
    write_table(payload(spark, sp.payload_rows(20, seed=1)), TableLocation(settings.tables.payload))
    assert run_hourly(spark, settings).ok
    before = versions(spark, settings)
    other = tmp_path / "other_payload"
    write_table(payload(spark, sp.payload_rows(20, seed=2)), TableLocation(str(other)))

    assert cli(tmp_path, "hourly", "--payload-table", str(other)) == 2
    err = capsys.readouterr().err
    assert "belongs to another payload table" in err and "--checkpoint" in err
    assert versions(spark, settings) == before


def test_a_missing_or_unreadable_payload_table_is_a_clear_error(spark, tmp_path, capsys):
    settings = make_config(tmp_path)
    assert cli(tmp_path, "hourly") == 2
    assert "no Delta table at" in capsys.readouterr().err

    write_table(payload(spark, sp.payload_rows(5, seed=1)), TableLocation(settings.tables.payload))
    log = Path(settings.tables.payload) / "_delta_log" / "00000000000000000000.json"
    log.write_text("this is not a delta log\n")
    assert cli(tmp_path, "backfill") == 2
    err = capsys.readouterr().err
    assert f"cannot read the Delta table {settings.tables.payload}" in err and "_delta_log" in err


def test_an_expired_lease_of_a_dead_run_is_taken_over(spark, tmp_path):
    settings = make_config(tmp_path)
    write_table(payload(spark, sp.payload_rows(10, seed=1)), TableLocation(settings.tables.payload))
    an_hour_ago = dt.datetime.now(dt.timezone.utc) - dt.timedelta(hours=1)
    dead = {"lease": settings.tables.request_logs, "run_id": "dead", "job": "hourly", "holder": "gone",
            "acquired_at": an_hour_ago, "expires_at": an_hour_ago + dt.timedelta(minutes=5)}
    write_table(spark.createDataFrame([dead], RUN_LEASES), TableLocation(settings.state.lock))
    report = run_hourly(spark, settings)
    assert report.ok and report.rows_read == 10
    lease = RunLease(spark, settings.state.lock, settings.tables.request_logs, "reader", "hourly")
    assert lease.holder() == {}  # released at the end
    assert {row["run_id"] for row in read_table(spark, TableLocation(settings.state.lock)).collect()} == \
        {"dead", report.run_id}  # its claim and release beside the dead run's row


# --- payload schema drift ---------------------------------------------------------------------

def test_extra_columns_and_a_column_added_mid_history(spark, tmp_path):
    settings = make_config(tmp_path)
    source = TableLocation(settings.tables.payload)
    rows = sp.payload_rows(120, seed=5)
    write_table(payload(spark, rows[:60]).withColumn("trace_id", F.lit("t")), source)
    assert run_hourly(spark, settings).ok
    later = payload(spark, rows[60:]).withColumn("trace_id", F.lit("t")).withColumn("agent_version", F.lit("v4"))
    later.write.format("delta").mode("append").option("mergeSchema", "true").save(source.value)
    second = run_hourly(spark, settings)
    assert second.ok and second.rows_read == 60

    (tmp_path / "reference").mkdir()
    reference = make_config(tmp_path / "reference")
    write_table(read_table(spark, source), TableLocation(reference.tables.payload))
    assert run_backfill(spark, reference, DateRange()).ok
    got, want = snapshot(spark, settings), snapshot(spark, reference)
    assert got["request_logs"] == want["request_logs"] and got["assessment_logs"] == want["assessment_logs"]
    # quarantined rows keep the payload row as it was read: with the columns the table had then
    quarantined = read_table(spark, TableLocation(settings.tables.quarantine))
    expected = read_table(spark, TableLocation(reference.tables.quarantine))
    assert sorted(map(str, quarantined.select("databricks_request_id", "reason").collect())) == \
        sorted(map(str, expected.select("databricks_request_id", "reason").collect()))
    assert all('"trace_id":"t"' in r[0] for r in quarantined.select("payload_row").collect())


def test_legacy_and_gateway_tables_feed_the_same_outputs(spark, tmp_path, capsys):
    settings = make_config(tmp_path)
    legacy, gateway = tmp_path / "legacy_payload", tmp_path / "gateway_payload"
    write_table(sp.payload_frame(spark, sp.payload_rows(80, seed=41), PayloadGeneration.LEGACY), TableLocation(str(legacy)))
    gateway_rows = sp.payload_rows(80, seed=42)
    for row in gateway_rows[:20]:
        row["status_code"] = str(row["status_code"])  # written by a logger that kept it as text
    write_table(spark.createDataFrame([sp.to_generation(r, PayloadGeneration.GATEWAY) for r in gateway_rows],
                                      _with_string_status(GATEWAY_PAYLOAD)),
                TableLocation(str(gateway)))

    for source in (legacy, gateway):
        assert cli(tmp_path, "hourly", "--payload-table", str(source), "--checkpoint", f"{source}_checkpoint", "--json") == 0
    capsys.readouterr()
    both = snapshot(spark, settings)

    # a merging backfill of one source keeps the other's rows and adds nothing twice
    assert cli(tmp_path, "backfill", "--payload-table", str(legacy), "--merge") == 0
    assert snapshot(spark, settings) == both
    logs = read_table(spark, TableLocation(settings.tables.request_logs))
    assert logs.where("request_metadata['served_entity_id'] IS NOT NULL").count() > 0      # gateway rows
    assert logs.where("request_metadata['endpoint_name'] IS NOT NULL").count() > 0         # legacy rows
    assert logs.where("status_code IS NULL").count() == 0


def _with_string_status(schema):
    from pyspark.sql.types import StringType, StructField, StructType
    return StructType([StructField(f.name, StringType()) if f.name == "status_code" else f for f in schema.fields])


# --- bodies at the logging limits -------------------------------------------------------------

def test_bodies_at_the_logging_limits(spark, tmp_path):
    """A 10 MiB request and a 1 MiB response, the largest bodies the payload table logs."""
    settings = make_config(tmp_path)
    one_mib, ten_mib = "a" * (1 << 20), "b" * (10 << 20)
    rows = [
        gateway_row("one-mib", sp.chat_request("q"), sp.chat_completion(one_mib)),
        gateway_row("ten-mib", sp.responses_request(ten_mib), sp.responses_agent_response("short")),
        gateway_row("dropped", None, None, logging_error_codes=["MAX_REQUEST_SIZE_EXCEEDED", "MAX_RESPONSE_SIZE_EXCEEDED"]),
    ]
    write_table(spark.createDataFrame(rows, GATEWAY_PAYLOAD), TableLocation(settings.tables.payload))
    assert run_backfill(spark, settings, DateRange()).ok

    got = {r["databricks_request_id"]: r for r in read_table(spark, TableLocation(settings.tables.request_logs)).collect()}
    assert got["one-mib"]["response"] == one_mib
    assert got["ten-mib"]["request"] == ten_mib and got["ten-mib"]["response"] == "short"
    dropped = got["dropped"]
    assert (dropped["request"], dropped["response"]) == (None, None)
    assert dropped["request_metadata"]["logging_error_codes"] == "MAX_REQUEST_SIZE_EXCEEDED,MAX_RESPONSE_SIZE_EXCEEDED"


def test_a_trace_of_twenty_thousand_spans(spark, tmp_path):
    """A deep agent trace (about 6 MiB of response, under the 10 MiB limit) is kept whole."""
    settings = make_config(tmp_path)
    trace = sp.trace_mlflow3("q", "a")
    span = trace["data"]["spans"][0]
    trace["data"]["spans"] = [dict(span, span_id=f"{i:016x}", name=f"step {i}") for i in range(20_000)]
    rows = [gateway_row("20k-spans", sp.responses_request("q"), sp.responses_agent_response("a", trace))]
    write_table(spark.createDataFrame(rows, GATEWAY_PAYLOAD), TableLocation(settings.tables.payload))
    assert run_backfill(spark, settings, DateRange()).ok

    [row] = read_table(spark, TableLocation(settings.tables.request_logs)).collect()
    assert (row["schema_version"], row["response"]) == ("3", "a")
    assert len(json.loads(row["trace"])["data"]["spans"]) == 20_000


# --- check: report without writing ------------------------------------------------------------

def test_check_reports_what_a_run_would_produce_and_writes_nothing(spark, tmp_path, capsys):
    settings = make_config(tmp_path)
    write_table(payload(spark, sp.payload_rows(150, seed=9, malformed_share=0.1)), TableLocation(settings.tables.payload))
    before = sorted(p.name for p in tmp_path.iterdir())

    assert cli(tmp_path, "check", "--json") == 0
    checked = json.loads(capsys.readouterr().out)
    assert sorted(p.name for p in tmp_path.iterdir()) == before   # no table, lock or checkpoint
    assert checked["balanced"] and checked["rows_read"] == 150 and sum(checked["status_codes"].values()) == 150

    assert cli(tmp_path, "backfill", "--json") == 0
    out = capsys.readouterr().out
    ran = json.loads(out)
    for key in ("rows_read", "request_logs_rows", "assessment_rows", "quarantine_reasons", "status_codes",
                "request_shapes", "response_shapes", "trace_formats"):
        assert checked[key] == ran[key], key


def test_tables_named_in_the_metastore_are_created_checked_and_refused_like_paths(spark):
    import uuid

    from pipelines.errors import TableError
    from pipelines.io.delta_tables import ensure_table
    from schemas.run_state import RUN_LEASES

    delta_name, parquet_name = (f"default.t_{uuid.uuid4().hex[:12]}" for _ in range(2))
    try:
        ensure_table(spark, TableLocation(delta_name), RUN_LEASES)
        ensure_table(spark, TableLocation(delta_name), RUN_LEASES)  # there already: nothing to do
        assert spark.sql(f"DESCRIBE DETAIL {delta_name}").first()["format"] == "delta"
        assert read_table(spark, TableLocation(delta_name)).schema.fieldNames() == RUN_LEASES.fieldNames()
        spark.sql(f"CREATE TABLE {parquet_name} (lease STRING) USING PARQUET")
        with pytest.raises(TableError, match="is not a Delta table"):
            ensure_table(spark, TableLocation(parquet_name), RUN_LEASES)
    finally:
        for name in (delta_name, parquet_name):
            spark.sql(f"DROP TABLE IF EXISTS {name}")
