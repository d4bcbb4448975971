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
from pipelines.io.delta_tables import SPARK_ERRORS, TableLocation
from pipelines.io.stream_checkpoint import caught_up, checkpoint_files, last_committed_offset
from pipelines.runs.job import run_job
from pipelines.runs.payload_source import configured_payload, payload_location
from pipelines.runs.outputs import OutputTables
from pipelines.runs.parallel import in_parallel
from pipelines.runs.writers import AfterWrite, ExactlyOnceMerge
from pipelines.runs.passes import derive_outputs, look_at_batch
from pipelines.runs.report import RunReport, progress_line
from pipelines.transforms.normalize import normalize_payload
from schemas.run_state import BATCH_REPORTS


def process_batch(batch: DataFrame, batch_id: int, outputs: OutputTables, reports: TableLocation, run_id: str,
                  after_write: AfterWrite) -> None:
    """Derive and merge one micro-batch, then record its report (read back by run and batch: a
    batch recorded twice counts once)."""
    spark = batch.sparkSession
    normalized = normalize_payload(batch)
    # one narrow look at the batch: its dates (the stored rows it can repeat) and its repeated ids
    dates, repeated = look_at_batch(normalized)
    report = derive_outputs(normalized, ExactlyOnceMerge(spark, outputs, dates), after_write, repeated=repeated,
                            with_details=outputs.with_details)
    record = spark.createDataFrame(
        [(run_id, batch_id, dt.datetime.now(dt.timezone.utc), report.ok, json.dumps(report.as_dict(), sort_keys=True))],
        BATCH_REPORTS)
    # appended, not merged (a cheaper commit): a run's stream runs each of its batches once
    delta_tables.append(record, reports)


def batch_reports(spark: SparkSession, reports: TableLocation, run_id: str) -> list[tuple[int, RunReport]]:
    """The reports the run's batches recorded, in batch order (a batch recorded twice counts once:
    its last record)."""
    rows = (delta_tables.read_table(spark, reports).where(F.col("run_id") == run_id)
            .select("batch_id", "report").orderBy("batch_id", "recorded_at").collect())
    last = {row["batch_id"]: row["report"] for row in rows}
    return [(batch_id, RunReport.from_dict(json.loads(report))) for batch_id, report in last.items()]


def _print_progress(progress: dict) -> None:
    # The progress's row counts add up every pass's read of the batch; the batch's own counts
    # are printed from its report when the stream ends.
    seconds = (progress.get("durationMs") or {}).get("triggerExecution", 0) / 1000
    progress_line(f"  batch {progress.get('batchId')}: done in {seconds:.0f} s")


def _payload_stream(spark: SparkSession, settings: Settings) -> tuple[TableLocation, DataFrame]:
    """The payload table and the stream of its rows appended since the last run (not started)."""
    source = payload_location(spark, settings)
    return source, delta_tables.stream_table(spark, source, settings.state.max_files_per_batch)


def _hourly(spark: SparkSession, settings: Settings, outputs: OutputTables, run_id: str,
            after_write: AfterWrite, prepared: tuple[TableLocation, DataFrame]) -> tuple[RunReport, str]:
    state = settings.state
    source, stream = prepared
    reports = TableLocation(state.batch_reports)
    delta_tables.ensure_table(spark, reports, BATCH_REPORTS)
    process = functools.partial(process_batch, outputs=outputs, reports=reports, run_id=run_id,
                                after_write=after_write)
    progress = delta_tables.run_available_now(stream, state.checkpoint, process, "inference-logs-hourly",
                                              on_progress=_print_progress)
    total = RunReport()
    for batch_id, report in batch_reports(spark, reports, run_id):
        total.add(report)
        progress_line(f"  batch {batch_id}: {report.rows_read} payload rows, {report.request_logs_rows} requests, "
                      f"{report.assessment_rows} assessments, {report.quarantined_rows} quarantined"
                      + ("" if report.ok else " - CHECKS FAILED"))
        if not report.ok:
            total.checks[f"batch_{batch_id}_balanced"] = report.balanced
    return total, f"{source}: {delta_tables.source_versions(progress)}"


def nothing_new(spark: SparkSession, settings: Settings) -> str | None:
    """``"<payload table>: no new data (version V)"`` when the stream's last planned batch is
    committed and read every version of the payload table up to its latest, V; None otherwise
    (no checkpoint yet, a batch planned but not committed, new versions, another table, or a
    look that failed: the full run then decides and says why). Reads two small folders and the
    table's log; writes nothing and takes no lease, so it is safe beside a running job: the
    checkpoint only moves forward, and what it has read stays read."""
    source = configured_payload(settings)
    if source is None:
        return None

    def latest_version() -> int | None:
        try:
            return delta_tables.table_version(spark, source)
        except SPARK_ERRORS:
            return None

    looks = in_parallel(spark, {
        "offset": lambda: last_committed_offset(checkpoint_files(spark, settings.state.checkpoint)),
        "latest": latest_version})
    offset, latest = looks["offset"], looks["latest"]
    # the table's id is the dearer look (it sums the table's files): only when the versions agree
    if offset is None or latest is None or offset.get("reservoirVersion") != latest + 1:
        return None
    try:
        if not caught_up(offset, delta_tables.table_id(spark, source), latest):
            return None
    except SPARK_ERRORS:
        return None
    return f"{source}: no new data (version {latest})"


def run_hourly(spark: SparkSession, settings: Settings, after_write: AfterWrite = None) -> RunReport:
    """Process what arrived in the payload table since the last successful run (the whole
    history on the first run), however late its request time, and stop when caught up. When the
    checkpoint shows that nothing arrived since (``nothing_new``), the run says so and stops: it
    takes no lease and writes nothing, not even a run-history row (it has read nothing)."""
    if settings.state is None:
        raise ConfigError("the hourly job needs a state section (state.checkpoint, state.lock, "
                          "state.batch_reports) in the config")
    source = nothing_new(spark, settings)
    if source is not None:
        progress_line(f"  {source}: the last run read every version; nothing to do")
        return RunReport()
    return run_job("hourly", spark, settings,
                   lambda outputs, run_id, prepared: _hourly(spark, settings, outputs, run_id, after_write, prepared),
                   incremental=True, prepare=lambda: _payload_stream(spark, settings))
