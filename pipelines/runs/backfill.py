"""The backfill job: rebuild a range of payload dates (or the whole table)."""
from __future__ import annotations

from pyspark.sql import SparkSession

from pipelines.config import Settings
from pipelines.io import delta_tables
from pipelines.runs.lifecycle import DateRange, payload_location, run_job
from pipelines.runs.outputs import (
    OUTPUTS,
    AfterWrite,
    MergeBatch,
    OutputTables,
    ReplaceRange,
    derive_outputs,
    payload_dates,
)
from pipelines.runs.report import RunReport
from pipelines.transforms.normalize import normalize_payload


def _backfill(spark: SparkSession, settings: Settings, outputs: OutputTables, dates: DateRange,
              merge: bool, after_write: AfterWrite) -> tuple[RunReport, str]:
    source = payload_location(spark, settings)
    normalized = normalize_payload(dates.of(delta_tables.read_source(spark, source)))
    if merge:
        writer = MergeBatch(spark, outputs, payload_dates(normalized))
    else:
        writer = ReplaceRange(spark, outputs, {o.name: dates.predicate(o.range_column) for o in OUTPUTS})
    report = derive_outputs(normalized, writer, after_write)
    return report, f"{source}: {dates.describe()}" + (" (merged)" if merge else "")


def run_backfill(spark: SparkSession, settings: Settings, dates: DateRange, merge: bool = False,
                 after_write: AfterWrite = None) -> RunReport:
    """Rebuild the three tables for a range of payload dates (or entirely): each table's range
    is replaced atomically, so a re-run gives identical tables.

    With ``merge``, the range is merged in as the hourly job does (keeping rows the range's
    payload does not hold): for outputs fed by several payload tables.
    """
    return run_job("backfill", spark, settings,
                   lambda outputs, _run_id: _backfill(spark, settings, outputs, dates, merge, after_write))
