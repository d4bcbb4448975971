"""The hourly job end to end on temporary Delta tables: exactly once, late rows, overlap with
backfills, interrupted runs, the run lock and the run history."""
import datetime as dt
import time

import pytest
from pyspark.sql import functions as F

from chispa import assert_df_equality

from jobs.cli import main
from pipelines.samples import sample_payloads as sp
from pipelines.config import load_settings
from pipelines.errors import RunLockedError
from pipelines.io.delta_tables import TableLocation, append, read_table, table_version, write_table
from pipelines.io.run_lease import RunLease
from pipelines.runs.backfill import run_backfill
from pipelines.runs.hourly import nothing_new, run_hourly
from pipelines.runs.dates import DateRange
from pipelines.runs.outputs import REQUEST_LOGS, OutputTables
from pipelines.runs.writers import ExactlyOnceMerge
from schemas.payload import PayloadGeneration

pytestmark = pytest.mark.e2e
OUTPUTS = ("request_logs", "assessment_logs", "quarantine")


def make_config(root, name="conf.yaml", state_extra="", details=False):
    path = root / name
    path.write_text(f"""
environment: test
tables:
  payload: {root}/payload
  request_logs: {root}/request_logs
  assessment_logs: {root}/assessment_logs
  quarantine: {root}/quarantine
  run_history: {root}/run_history
  assessment_logs_latest: {root}/assessment_logs_latest
{f"  request_details: {root}/request_details" if details else ""}
state:
  checkpoint: {root}/checkpoint
  lock: {root}/run_leases
  batch_reports: {root}/batch_reports
{state_extra}""")
    return load_settings(path)


def snapshot(spark, settings):
    out = {}
    for name in (*OUTPUTS, *(["request_details"] if settings.tables.request_details else [])):
        df = read_table(spark, TableLocation(getattr(settings.tables, name)))
        out[name] = sorted(r[0] for r in df.select(F.to_json(F.struct(*df.columns))).collect())
    return out


def payload(spark, rows):
    return sp.payload_frame(spark, rows, PayloadGeneration.GATEWAY)


@pytest.fixture(scope="module")
def history(spark):
    """1/ 300 rows over 3 days, 2/ 100 late rows whose requests are days old, some repeating ids."""
    first = sp.payload_rows(300, seed=21, malformed_share=0.05)
    late = sp.payload_rows(100, seed=22, malformed_share=0.05)
    return first, late + first[:5]


@pytest.fixture(scope="module")
def reference(spark, tmp_path_factory, history):
    """Tables from a single clean backfill over the full history."""
    root = tmp_path_factory.mktemp("reference")
    settings = make_config(root)
    write_table(payload(spark, history[0] + history[1]), TableLocation(settings.tables.payload))
    assert run_backfill(spark, settings, DateRange()).ok
    return snapshot(spark, settings)


def test_late_rows_are_picked_up_and_the_result_equals_a_backfill(spark, tmp_path, history, reference):
    settings = make_config(tmp_path)
    write_table(payload(spark, history[0]), TableLocation(settings.tables.payload))
    first = run_hourly(spark, settings)
    assert first.ok and first.rows_read == 300

    append(payload(spark, history[1]), TableLocation(settings.tables.payload))
    second = run_hourly(spark, settings)
    assert second.ok and second.rows_read == 105
    assert snapshot(spark, settings) == reference


def test_a_run_with_nothing_new_changes_nothing(spark, tmp_path, history):
    settings = make_config(tmp_path)
    write_table(payload(spark, history[0]), TableLocation(settings.tables.payload))
    assert run_hourly(spark, settings).ok
    versions = {n: table_version(spark, TableLocation(getattr(settings.tables, n)))
                for n in (*OUTPUTS, "assessment_logs_latest")}
    lease = table_version(spark, TableLocation(settings.state.lock))
    recorded = table_version(spark, TableLocation(settings.tables.run_history))
    checkpoint = sorted(str(p.relative_to(tmp_path)) for p in (tmp_path / "checkpoint").rglob("*"))
    assert nothing_new(spark, settings) == f"{settings.tables.payload}: no new data (version 0)"

    again = run_hourly(spark, settings)
    assert again.ok and again.rows_read == 0
    assert {n: table_version(spark, TableLocation(getattr(settings.tables, n)))
            for n in (*OUTPUTS, "assessment_logs_latest")} == versions
    assert table_version(spark, TableLocation(settings.state.lock)) == lease  # no lease taken
    assert sorted(str(p.relative_to(tmp_path)) for p in (tmp_path / "checkpoint").rglob("*")) == checkpoint
    assert table_version(spark, TableLocation(settings.tables.run_history)) == recorded  # no row: it read nothing
    assert again.run_id is None

    append(payload(spark, history[1]), TableLocation(settings.tables.payload))
    assert nothing_new(spark, settings) is None
    assert run_hourly(spark, settings).rows_read == 105


def test_a_run_interrupted_after_a_committed_batch_is_not_taken_for_nothing_new(spark, tmp_path, history,
                                                                                 reference):
    settings = make_config(tmp_path)
    write_table(payload(spark, history[0]), TableLocation(settings.tables.payload))
    assert run_hourly(spark, settings).ok
    append(payload(spark, history[1]), TableLocation(settings.tables.payload))

    def crash(table):
        if table == "quarantine":  # the batch's last write, before its checkpoint commit
            raise RuntimeError("killed")

    with pytest.raises(Exception, match="killed"):
        run_hourly(spark, settings, after_write=crash)
    # the planned batch read up to the latest version, but it is not committed
    assert nothing_new(spark, settings) is None
    assert run_hourly(spark, settings).rows_read == 105
    assert snapshot(spark, settings) == reference


@pytest.mark.parametrize("killed_after", ["request_logs", "assessment_logs"])
def test_a_run_killed_between_writes_then_retried_equals_a_clean_run(spark, tmp_path, history, reference, killed_after):
    settings = make_config(tmp_path)
    write_table(payload(spark, history[0] + history[1]), TableLocation(settings.tables.payload))

    def crash(table):
        if table == killed_after:
            raise RuntimeError("killed")

    with pytest.raises(Exception, match="killed"):
        run_hourly(spark, settings, after_write=crash)
    assert run_hourly(spark, settings).ok
    assert snapshot(spark, settings) == reference


def test_backfill_and_hourly_overlap_without_duplicates(spark, tmp_path, history, reference):
    settings = make_config(tmp_path)
    write_table(payload(spark, history[0]), TableLocation(settings.tables.payload))
    assert run_hourly(spark, settings).ok
    append(payload(spark, history[1]), TableLocation(settings.tables.payload))
    # a backfill covering what hourly runs already wrote, and the late rows; then hourly again
    assert run_backfill(spark, settings, DateRange(dt.date(2025, 12, 1), dt.date(2025, 12, 3))).ok
    assert run_hourly(spark, settings).ok
    assert snapshot(spark, settings) == reference


def test_a_later_row_for_a_stored_request_replaces_it_and_equals_a_backfill(spark, tmp_path, history):
    settings = make_config(tmp_path, details=True)
    write_table(payload(spark, history[0]), TableLocation(settings.tables.payload))
    assert run_hourly(spark, settings).ok
    logs = TableLocation(settings.tables.request_logs)
    stored_count = read_table(spark, logs).count()
    # a stored request logged again a second later (same date) with another answer: the
    # duplicate rule prefers the later row, so it must replace the stored one
    original = next(row for row in history[0] if row["databricks_request_id"] is not None
                    and row["status_code"] == 200 and row["when"].hour < 23 and "assessments" not in row["request"])
    later = {**original, "when": original["when"] + dt.timedelta(seconds=1),
             "response": '{"choices": [{"message": {"role": "assistant", "content": "a later answer"}}]}'}
    append(payload(spark, [later]), TableLocation(settings.tables.payload))

    report = run_hourly(spark, settings)
    assert report.ok and report.rows_read == 1
    assert report.rows_written["request_logs"] == 1  # the MERGE's one update, nothing appended
    assert report.rows_written["request_details"] == 1   # the details follow the kept row
    rows = read_table(spark, logs).where(F.col("databricks_request_id") == original["databricks_request_id"]).collect()
    assert [row["response"] for row in rows] == ["a later answer"]
    assert read_table(spark, logs).count() == stored_count

    (tmp_path / "rebuilt").mkdir()
    rebuilt = make_config(tmp_path / "rebuilt", details=True)
    write_table(payload(spark, history[0] + [later]), TableLocation(rebuilt.tables.payload))
    assert run_backfill(spark, rebuilt, DateRange()).ok
    assert snapshot(spark, settings) == snapshot(spark, rebuilt)


def test_only_preferred_rows_of_a_merged_batch_are_found_to_replace_stored_ones(spark, tmp_path):
    # A batch merged twice meets its own rows: none of them may count as a replacement, or a
    # re-merged range would derive and MERGE every row again.
    settings = make_config(tmp_path)
    tables = OutputTables.from_settings(settings)
    day = dt.date(2025, 12, 1)
    columns = "date date, databricks_request_id string, timestamp_ms bigint, status_code int, request_raw string"
    stored = [(day, "same", 1000, 200, "{}"), (day, "later", 1000, 200, "{}"), (day, "other_day", 1000, 200, "{}")]
    write_table(spark.createDataFrame(stored, columns), TableLocation(settings.tables.request_logs))
    batch = spark.createDataFrame([(day, "same", 1000, 200, "{}"), (day, "later", 2000, 200, "{}"),
                                   (day, "new", 500, 200, "{}"),
                                   (day + dt.timedelta(days=1), "other_day", 9000, 200, "{}")], columns)
    writer = ExactlyOnceMerge(spark, tables, [day, day + dt.timedelta(days=1)])
    found = writer.replacing_rows(REQUEST_LOGS, REQUEST_LOGS.replacement, batch)
    assert_df_equality(found, spark.createDataFrame([("later",)], "databricks_request_id string"))


def test_a_second_concurrent_run_is_refused_with_a_clear_message(spark, tmp_path, history, capsys):
    settings = make_config(tmp_path)
    write_table(payload(spark, history[0][:20]), TableLocation(settings.tables.payload))
    with RunLease(spark, settings.state.lock, settings.tables.request_logs, "other-run", "backfill"):
        code = main(["hourly", "--config", str(tmp_path / "conf.yaml")])
    assert code == 4
    err = capsys.readouterr().err
    assert "another run holds the lock" in err and "other-run" in err
    assert not (tmp_path / "request_logs").exists()  # the refused run wrote nothing
    assert main(["hourly", "--config", str(tmp_path / "conf.yaml")]) == 0


def test_a_waiting_run_asks_without_committing_and_takes_the_lease_once_the_holder_releases_it(spark, tmp_path):
    # An ask that finds the lease held appends nothing and makes no commit, so a waiter never
    # makes the holder's renewal or release conflict.
    settings = make_config(tmp_path)
    lock = TableLocation(settings.state.lock)
    with RunLease(spark, settings.state.lock, settings.tables.request_logs, "holder", "backfill") as holder:
        before = table_version(spark, lock)
        waiter = RunLease(spark, settings.state.lock, settings.tables.request_logs, "waiter", "hourly",
                          wait_seconds=3, poll_seconds=0.5)
        with pytest.raises(RunLockedError, match="holder"):
            waiter.acquire()
        assert table_version(spark, lock) == before
        assert holder.holder()["run_id"] == "holder"
    assert waiter.holder() == {}  # released (its first row, not yet expired, no longer counts)
    with waiter:
        assert waiter.holder()["run_id"] == "waiter"


def test_the_lease_is_taken_by_an_append_that_read_the_table_and_released_by_an_append(spark, tmp_path):
    # Not a blind append: Delta checks it against every commit since its read, so of two runs
    # asking at once one fails (tests/test_run_lease.py asks from two processes).
    settings = make_config(tmp_path)
    lock = TableLocation(settings.state.lock)
    with RunLease(spark, settings.state.lock, settings.tables.request_logs, "run-1", "hourly"):
        taken = spark.sql(f"DESCRIBE HISTORY {lock.sql} LIMIT 1").first()
    released = spark.sql(f"DESCRIBE HISTORY {lock.sql} LIMIT 1").first()
    assert (taken["operation"], taken["isBlindAppend"]) == ("WRITE", False)
    assert (released["operation"], released["isBlindAppend"]) == ("WRITE", True)
    assert released["version"] == taken["version"] + 1


def test_a_run_that_overran_its_lease_loses_it_to_the_run_that_took_it_over(spark, tmp_path):
    settings = make_config(tmp_path)
    lease = settings.tables.request_logs
    slow = RunLease(spark, settings.state.lock, lease, "slow", "backfill", lease_seconds=1)
    slow.acquire()
    slow._stop.set()  # it stops renewing, as a run stalled past its lease would
    time.sleep(1.5)
    with RunLease(spark, settings.state.lock, lease, "next", "hourly") as taken_over:
        assert taken_over.holder()["run_id"] == "next"
        assert slow._claim() is False  # its renewal finds the lease another run's
    slow.release()
    assert slow.holder() == {}


def test_a_release_deletes_the_rows_of_finished_runs_beyond_keep_runs(spark, tmp_path):
    settings = make_config(tmp_path)
    lock = TableLocation(settings.state.lock)
    for run in ("run-1", "run-2", "run-3", "run-4"):
        with RunLease(spark, settings.state.lock, settings.tables.request_logs, run, "hourly", keep_runs=2):
            pass
        runs = sorted({row["run_id"] for row in read_table(spark, lock).collect()})
        # run-4 found three runs' rows (more than 2): its release deleted them, then added its own
        assert runs == (["run-4"] if run == "run-4" else [f"run-{n}" for n in range(1, int(run[-1]) + 1)])
    assert read_table(spark, lock).count() == 2  # run-4's claim and release


def test_run_history_records_each_run_and_reconciles(spark, tmp_path, history):
    settings = make_config(tmp_path)
    write_table(payload(spark, history[0]), TableLocation(settings.tables.payload))
    report = run_hourly(spark, settings)
    run_backfill(spark, settings, DateRange())
    runs = read_table(spark, TableLocation(settings.tables.run_history)).orderBy("started_at").collect()
    assert [(r["job"], r["status"], r["balanced"]) for r in runs] == [("hourly", "succeeded", True),
                                                                      ("backfill", "succeeded", True)]
    first = runs[0]
    assert first["run_id"] == report.run_id and first["rows_read"] == 300
    assert first["rows_read"] == (first["rows_written"]["request_logs"] + report.feedback_rows
                                  + first["rows_written"]["quarantine"] + first["duplicates_collapsed"])
    assert all(first["checks"].values()) and "versions" in first["source"]


def test_latest_feedback_keeps_one_row_per_rater_and_target(spark, tmp_path):
    settings = make_config(tmp_path)
    clicks = [(dt.datetime(2025, 12, 1, 10, minute, tzinfo=dt.timezone.utc), value)
              for minute, value in [(0, "negative"), (5, "positive"), (3, "negative")]]
    rows = [{"databricks_request_id": f"fb{i}", "when": when, "status_code": 200, "execution_ms": 1,
             "request": __import__("json").dumps(sp.feedback_request("req-1", "ann@x", value, retrieval=False)),
             "response": "{}"} for i, (when, value) in enumerate(clicks)]
    write_table(payload(spark, rows), TableLocation(settings.tables.payload))
    assert run_hourly(spark, settings).ok
    assert read_table(spark, TableLocation(settings.tables.assessment_logs)).count() == 3
    latest = read_table(spark, TableLocation(settings.tables.assessment_logs_latest)).collect()
    assert [r["text_assessment"]["ratings"]["answer_correct"]["value"] for r in latest] == ["positive"]
    # made from its declaration (schemas/tables.py), clustering included
    detail = spark.sql(f"DESCRIBE DETAIL delta.`{settings.tables.assessment_logs_latest}`").first()
    assert list(detail["clusteringColumns"]) == ["timestamp"]


def test_latest_feedback_is_merged_from_new_ratings_only_and_equals_a_rebuild(spark, tmp_path):
    from pipelines.transforms.latest_feedback import latest_assessments

    settings = make_config(tmp_path)

    def click(i, minute, rater, value):
        return {"databricks_request_id": f"fb{i}", "when": dt.datetime(2025, 12, 1, 10, minute, tzinfo=dt.timezone.utc),
                "status_code": 200, "execution_ms": 1, "response": "{}",
                "request": __import__("json").dumps(sp.feedback_request("req-1", rater, value, retrieval=False))}

    write_table(payload(spark, [click(0, 5, "ann@x", "positive"), click(1, 6, "bob@x", "negative")]),
                TableLocation(settings.tables.payload))
    assert run_hourly(spark, settings).ok
    # later: ann changes her mind; a late, older click of bob's arrives and must not win
    append(payload(spark, [click(2, 9, "ann@x", "negative"), click(3, 1, "bob@x", "positive")]),
           TableLocation(settings.tables.payload))
    assert run_hourly(spark, settings).ok
    latest = read_table(spark, TableLocation(settings.tables.assessment_logs_latest))
    assert latest.where("timestamp IS NOT NULL").count() == 2
    assert sorted((r["source"]["id"], r["text_assessment"]["ratings"]["answer_correct"]["value"])
                  for r in latest.collect()) == [("ann@x", "negative"), ("bob@x", "negative")]
    rebuilt = latest_assessments(read_table(spark, TableLocation(settings.tables.assessment_logs)))
    as_text = lambda df: sorted(r[0] for r in df.select(F.to_json(F.struct(*df.columns))).collect())  # noqa: E731
    assert as_text(latest) == as_text(rebuilt)
    assert "MERGE" in [r["operation"] for r in spark.sql(
        f"DESCRIBE HISTORY delta.`{settings.tables.assessment_logs_latest}`").collect()]
