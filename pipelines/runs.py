"""Run orchestration: read the payload, derive, write the three tables, reconcile.

Transforms are pure (:mod:`pipelines.derive`); every read and write goes through
:mod:`pipelines.io.delta_tables`.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from pyspark import StorageLevel
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from pipelines import sample_payloads
from pipelines.config import Settings
from pipelines.derive import classify_payload, derive_from_classified
from pipelines.io import delta_tables
from pipelines.io.delta_tables import TableLocation
from pipelines.payload_input import date_range_filter
from pipelines.reconcile import RunReport, summarize, verify_written
from schemas import assessment_logs, quarantine, request_logs


@dataclass(frozen=True)
class OutputTables:
    request_logs: TableLocation
    assessment_logs: TableLocation
    quarantine: TableLocation

    @classmethod
    def from_settings(cls, settings: Settings) -> "OutputTables":
        t = settings.tables
        return cls(TableLocation(t.request_logs), TableLocation(t.assessment_logs), TableLocation(t.quarantine))


@dataclass(frozen=True)
class DateRange:
    """Inclusive range of payload dates; both None means the whole table."""
    start: dt.date | None = None
    end: dt.date | None = None

    def __post_init__(self):
        if (self.start is None) != (self.end is None):
            raise ValueError("give both --start-date and --end-date, or neither for the whole table")
        if self.start is not None and self.start > self.end:
            raise ValueError(f"--start-date {self.start} is after --end-date {self.end}")

    @property
    def whole_table(self) -> bool:
        return self.start is None

    def date_predicate(self, column: str) -> str | None:
        return None if self.whole_table else f"{column} >= '{self.start}' AND {column} <= '{self.end}'"

    def timestamp_predicate(self, column: str) -> str | None:
        if self.whole_table:
            return None
        return f"{column} >= '{self.start}' AND {column} < '{self.end + dt.timedelta(days=1)}'"


def ensure_output_tables(spark: SparkSession, outputs: OutputTables) -> None:
    delta_tables.ensure_table(spark, outputs.request_logs, request_logs.REQUEST_LOGS,
                              partition_by=request_logs.PARTITION_COLUMN)
    delta_tables.ensure_table(spark, outputs.assessment_logs, assessment_logs.ASSESSMENT_LOGS,
                              cluster_by=assessment_logs.CLUSTER_COLUMN)
    delta_tables.ensure_table(spark, outputs.quarantine, quarantine.QUARANTINE,
                              partition_by=quarantine.PARTITION_COLUMN)


def payload_location(spark: SparkSession, settings: Settings) -> TableLocation:
    """The configured payload table; when none is configured, a sample payload table is written
    first (once) from settings.sample_data."""
    if settings.tables.payload:
        return TableLocation(settings.tables.payload)
    sample = settings.sample_data
    if sample is None:
        raise ValueError("tables.payload is not set and there is no sample_data section to generate one from")
    location = TableLocation(sample.table)
    if not delta_tables.table_exists(spark, location):
        rows = sample_payloads.payload_rows(sample.rows, seed=sample.seed)
        delta_tables.write_table(sample_payloads.payload_frame(spark, rows, sample.generation), location)
    return location


def _filtered(payload: DataFrame, dates: DateRange) -> DataFrame:
    return payload if dates.whole_table else payload.where(date_range_filter(payload, dates.start, dates.end))


def _in_range(df: DataFrame, predicate: str | None) -> DataFrame:
    return df if predicate is None else df.where(F.expr(predicate))


def run_backfill(spark: SparkSession, settings: Settings, dates: DateRange) -> RunReport:
    """Rebuild the three tables for a range of payload dates (or entirely): the range is
    replaced atomically per table, so a re-run gives identical tables."""
    outputs = OutputTables.from_settings(settings)
    payload = _filtered(delta_tables.read_table(spark, payload_location(spark, settings)), dates)
    ensure_output_tables(spark, outputs)

    classified = classify_payload(payload).persist(StorageLevel.MEMORY_AND_DISK)
    try:
        derived = derive_from_classified(classified)
        report = summarize(classified)
        predicates = {
            outputs.request_logs: dates.date_predicate("date"),
            outputs.assessment_logs: dates.timestamp_predicate("timestamp"),
            outputs.quarantine: dates.date_predicate("date"),
        }
        delta_tables.replace_where(derived.request_logs, outputs.request_logs, predicates[outputs.request_logs])
        delta_tables.replace_where(derived.assessment_logs, outputs.assessment_logs, predicates[outputs.assessment_logs])
        delta_tables.replace_where(derived.quarantine, outputs.quarantine, predicates[outputs.quarantine])

        written = {loc: _in_range(delta_tables.read_table(spark, loc), predicates[loc]) for loc in predicates}
        report.checks = verify_written(
            classified, derived.assessment_logs, written[outputs.request_logs],
            written[outputs.assessment_logs], written[outputs.quarantine], report, exact=True,
        )
        return report
    finally:
        classified.unpersist()
