"""The hourly job: merge what arrived in the payload table since the last run, exactly once."""
from __future__ import annotations

from pyspark.sql import DataFrame, SparkSession

from pipelines.config import Settings
from pipelines.errors import ConfigError
from pipelines.io import delta_tables
from pipelines.runs.lifecycle import payload_location, run_job
from pipelines.runs.outputs import AfterWrite, MergeBatch, OutputTables, derive_outputs, payload_dates
from pipelines.runs.report import RunReport
from pipelines.transforms.normalize import normalize_payload


def _hourly(spark: SparkSession, settings: Settings, outputs: OutputTables,
            after_write: AfterWrite) -> tuple[RunReport, str]:
    if settings.state is None:
        raise ConfigError("the hourly job needs a state section (state.checkpoint, state.lock) in the config")
    source = payload_location(spark, settings)
    stream = delta_tables.stream_table(spark, source, settings.state.max_files_per_batch)
    total = RunReport()

    def process(batch: DataFrame, batch_id: int) -> None:
        normalized = normalize_payload(batch)
        dates = payload_dates(normalized)
        report = derive_outputs(normalized, MergeBatch(batch.sparkSession, outputs, dates), after_write)
        total.add(report)
        print(f"  batch {batch_id}: {report.rows_read} payload rows, "
              f"{report.request_logs_rows} requests, {report.assessment_rows} assessments, "
              f"{report.quarantined_rows} quarantined", flush=True)

    progress = delta_tables.run_available_now(stream, settings.state.checkpoint, process, "inference-logs-hourly")
    return total, f"{source}: {delta_tables.source_versions(progress)}"


def run_hourly(spark: SparkSession, settings: Settings, after_write: AfterWrite = None) -> RunReport:
    """Process what arrived in the payload table since the last successful run (the whole
    history on the first run), however late its request time, and stop when caught up."""
    return run_job("hourly", spark, settings, lambda outputs: _hourly(spark, settings, outputs, after_write),
                   incremental=True)
