"""The hourly job: merge what arrived in the payload table since the last run, exactly once.

Each micro-batch derives and merges its rows and records its report in the batch-reports
table (state.batch_reports). On Spark Connect the batch function runs in a Python process on
the server, so that table, not this process's memory, is how the run learns what its batches
did: when the stream ends, the run reads its batches' reports back and adds them up.
"""
from __future__ import annotations

import datetime as dt
import functools
import json

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from pipelines.config import Settings
from pipelines.errors import ConfigError
from pipelines.io import delta_tables
from pipelines.io.delta_tables import TableLocation
from pipelines.runs.lifecycle import payload_location, run_job
from pipelines.runs.outputs import (AfterWrite, MergeBatch, OutputTables, decide_duplicates, derive_outputs,
                                    in_parallel, payload_dates)
from pipelines.runs.report import RunReport
from pipelines.transforms.normalize import normalize_payload
from schemas.run_state import BATCH_REPORTS


def process_batch(batch: DataFrame, batch_id: int, outputs: OutputTables, reports: TableLocation, run_id: str,
                  after_write: AfterWrite) -> None:
    """Derive and merge one micro-batch, then record its report (idempotent per run and batch)."""
    normalized = normalize_payload(batch)
    # two narrow looks at the batch, at once: its dates (what the MERGEs touch) and its repeated ids
    looks = in_parallel(batch.sparkSession, {"dates": lambda: payload_dates(normalized),
                                             "repeated": lambda: decide_duplicates(normalized)})
    report = derive_outputs(normalized, MergeBatch(batch.sparkSession, outputs, looks["dates"]), after_write,
                            repeated=looks["repeated"])
    record = batch.sparkSession.createDataFrame(
        [(run_id, batch_id, dt.datetime.now(dt.timezone.utc), report.ok, json.dumps(report.as_dict(), sort_keys=True))],
        BATCH_REPORTS)
    delta_tables.merge_into(record, reports, "t.run_id = s.run_id AND t.batch_id = s.batch_id", update_when="true")


def batch_reports(spark: SparkSession, reports: TableLocation, run_id: str) -> list[tuple[int, RunReport]]:
    """The reports the run's batches recorded, in batch order."""
    rows = (delta_tables.read_table(spark, reports).where(F.col("run_id") == run_id)
            .select("batch_id", "report").orderBy("batch_id").collect())
    return [(row["batch_id"], RunReport.from_dict(json.loads(row["report"]))) for row in rows]


def _print_progress(progress: dict) -> None:
    # The progress's row counts add up every pass's read of the batch; the batch's own counts
    # are printed from its report when the stream ends.
    seconds = (progress.get("durationMs") or {}).get("triggerExecution", 0) / 1000
    print(f"  batch {progress.get('batchId')}: done in {seconds:.0f} s", flush=True)


def _hourly(spark: SparkSession, settings: Settings, outputs: OutputTables, run_id: str,
            after_write: AfterWrite) -> tuple[RunReport, str]:
    state = settings.state
    if state is None:
        raise ConfigError("the hourly job needs a state section (state.checkpoint, state.lock, "
                          "state.batch_reports) in the config")
    source = payload_location(spark, settings)
    reports = TableLocation(state.batch_reports)
    delta_tables.ensure_table(spark, reports, BATCH_REPORTS)
    stream = delta_tables.stream_table(spark, source, state.max_files_per_batch)
    process = functools.partial(process_batch, outputs=outputs, reports=reports, run_id=run_id,
                                after_write=after_write)
    progress = delta_tables.run_available_now(stream, state.checkpoint, process, "inference-logs-hourly",
                                              on_progress=_print_progress)
    total = RunReport()
    for batch_id, report in batch_reports(spark, reports, run_id):
        total.add(report)
        print(f"  batch {batch_id}: {report.rows_read} payload rows, {report.request_logs_rows} requests, "
              f"{report.assessment_rows} assessments, {report.quarantined_rows} quarantined"
              + ("" if report.ok else " - CHECKS FAILED"), flush=True)
        if not report.ok:
            total.checks[f"batch_{batch_id}_balanced"] = report.balanced
    return total, f"{source}: {delta_tables.source_versions(progress)}"


def run_hourly(spark: SparkSession, settings: Settings, after_write: AfterWrite = None) -> RunReport:
    """Process what arrived in the payload table since the last successful run (the whole
    history on the first run), however late its request time, and stop when caught up."""
    return run_job("hourly", spark, settings,
                   lambda outputs, run_id: _hourly(spark, settings, outputs, run_id, after_write), incremental=True)
