"""The benchmark command end to end on a small table: every measurement runs and is printed.

Speed is never asserted here (the figures of a tiny table mean nothing); the test keeps the
benchmark runnable and checks that its four jobs write what they claim to write.
"""
import pytest
from chispa import assert_df_equality
from pyspark.sql import functions as F

from benchmarks import bench
from pipelines.io.delta_tables import TableLocation, read_table

# Also run by the Spark Connect pass: the benchmark runs on either runtime.
pytestmark = [pytest.mark.slow, pytest.mark.e2e]


def test_the_benchmark_runs_every_throughput_measurement_and_prints_the_figures(spark, tmp_path, capsys):
    # The incremental part is three hourly runs (covered by the hourly job's own tests); skipped for time.
    args = bench.parse_args(["--rows", "300", "--skip-incremental", "--workdir", str(tmp_path / "bench")])
    figures = bench.run_benchmarks(spark, args)
    printed = capsys.readouterr().out

    for line in ("1. plain Delta copy", "2. pipeline", "3. baseline", "4. floor", "5. pipeline with the request details",
                 "pipeline / copy", "baseline / pipeline", "floor / copy", "details / pipeline", "peak driver JVM RSS",
                 "peak Python worker RSS"):
        assert line in printed
    assert all(figures[k] > 0 for k in ("copy_s", "pipeline_s", "baseline_s", "floor_s", "details_s"))
    assert "incremental ratio" not in printed and "incremental_ratio" not in figures
    assert figures["pipeline_per_copy"] == pytest.approx(figures["pipeline_s"] / figures["copy_s"])
    # each job ran twice, alternating, and the ratios use its best run
    order = [printed.index(f"{label}, round {n}") for n in (1, 2)
             for label in ("1. plain Delta copy (read + write)", "2. pipeline: backfill, three outputs, counted",
                           "3. baseline: the vendor's job (Python UDFs)",
                           "4. floor: the request-logs table copied",
                           "5. pipeline with the request details (four outputs)")]
    assert order == sorted(order) and order[-1] < printed.index("results (best of 2 rounds")
    for name in ("copy", "pipeline", "baseline", "floor", "details"):
        assert 0 < figures[f"{name}_s"] <= figures["first_round_s"][name]

    table = lambda name: read_table(spark, TableLocation(str(tmp_path / "bench" / name)))
    payload = table("payload")
    assert payload.count() == 300
    assert table("copy").count() == 300
    # the baseline is the vendor's job: status 200 requests only, traces on the body, one row per assessment
    baseline = table("baseline")
    assert 0 < baseline.count() == payload.where("status_code = 200").count() - baseline_feedback_rows(payload)
    logs = table("pipeline/request_logs")
    # the floor is the request-logs table itself, copied (its map column aside: maps do not sort)
    floor = table("floor")
    assert floor.schema == logs.schema
    plain = [name for name, kind in logs.dtypes if not kind.startswith("map")]
    assert_df_equality(floor.select(*plain), logs.select(*plain), ignore_row_order=True)
    assert 0 < baseline.where(F.col("trace").isNotNull()).count() <= logs.where(F.col("trace").isNotNull()).count()
    assert baseline.where(F.col("response").isNotNull()).count() > 0
    assert 0 < table("baseline_assessments").count() <= table("pipeline/assessment_logs").count()
    # the details run wrote the same request logs, and one details row per request-logs row
    assert table("details/request_logs").count() == logs.count() == table("details/request_details").count()


def baseline_feedback_rows(payload):
    return payload.where("status_code = 200").where(bench._baseline_feedback(payload)).count()


def test_the_whole_process_figures_time_scheduled_runs_that_do_the_work(spark, connect_mode, tmp_path, capsys):
    if connect_mode:
        pytest.skip("the timed runs are processes of their own; once, on the classic pass, is enough")
    # N = 5 new rows on a 500-row history; each kind of run once, each its own process
    args = bench.parse_args(["--incremental-rows", "5", "--process-runs", "1", "--workdir", str(tmp_path)])
    figures = bench.incremental(spark, args, tmp_path, bench.PayloadGeneration(args.generation))
    printed = capsys.readouterr().out

    for line in ("hourly over 5 new rows on the 500-row history", "hourly over the same 5 rows on fresh tables",
                 "hourly with nothing new", "plain Delta append of the 5 rows", "hourly / append", "hourly / fresh",
                 "nothing new / append"):
        assert line in printed
    assert all(figures[key] > 0 for key in ("process_hourly_s", "process_fresh_s", "process_nothing_new_s",
                                            "process_append_s"))
    table = lambda *path: read_table(spark, TableLocation(str(tmp_path.joinpath(*path))))
    # the timed process merged the new rows: its tables hold what the in-process run made of them
    for name in ("request_logs", "assessment_logs", "quarantine"):
        assert table("process_run", name).count() == table("history", name).count() > 0
    assert table("process_fresh", "request_logs").count() == table("fresh", "request_logs").count() > 0
    assert table("process_appended").count() == 5
    # the history the runs start from is left as it was (hard links, never written through)
    assert table("history_before_new_rows", "request_logs").count() < table("history", "request_logs").count()


@pytest.mark.parametrize("keep, left", [([], False), (["--keep"], True)])
def test_the_benchmark_deletes_its_tables_at_the_end_unless_asked_to_keep_them(tmp_path, capsys, keep, left):
    work = tmp_path / "bench"
    (work / "payload").mkdir(parents=True)
    (work / "payload" / "part-0.parquet").write_bytes(b"rows")
    bench.tidy_workdir(bench.parse_args(["--workdir", str(work), *keep]))
    assert work.exists() == left
    assert ("tables left in" in capsys.readouterr().out) == left
