"""Run orchestration: read the payload, derive, write the three tables, reconcile, record.

Transforms are pure (:mod:`pipelines.derive`); every read and write goes through
:mod:`pipelines.io`. Both jobs hold the run lock for their whole duration, refresh the latest
feedback table and append one row to the run history.
"""
from __future__ import annotations

import datetime as dt
import json
import traceback
import uuid
from dataclasses import dataclass
from typing import Callable, Optional

from pyspark import StorageLevel
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from pipelines.classify import preferred_new_rows
from pipelines.config import SampleDataSettings, Settings
from pipelines.derive import DerivedTables, classify_payload, derive_from_classified
from pipelines.io import delta_tables
from pipelines.io.delta_tables import TableLocation
from pipelines.io.run_lock import RunLock
from pipelines.latest_feedback import latest_assessments
from pipelines.payload_input import date_range_filter
from pipelines.reconcile import RunReport, summarize, verify_written
from pipelines.synthetic_payloads import synthetic_payload
from schemas import assessment_logs, quarantine, request_logs
from schemas.run_history import RUN_HISTORY

#: Called with a table name after each write; lets tests interrupt a run between writes.
AfterWrite = Optional[Callable[[str], None]]

#: How the classified rows are kept between the outputs they feed. They carry both raw bodies
#: and the trace: on disk they cost no heap (measured faster than memory-and-disk with a 2 GB
#: driver, which spent its time collecting garbage), and the rescans are sequential reads.
CLASSIFIED_STORAGE = StorageLevel.DISK_ONLY


@dataclass(frozen=True)
class OutputTables:
    request_logs: TableLocation
    assessment_logs: TableLocation
    quarantine: TableLocation

    @classmethod
    def from_settings(cls, settings: Settings) -> "OutputTables":
        t = settings.tables
        tables = cls(TableLocation(t.request_logs), TableLocation(t.assessment_logs), TableLocation(t.quarantine))
        if len({tables.request_logs, tables.assessment_logs, tables.quarantine}) < 3:
            raise ValueError("tables.request_logs, tables.assessment_logs and tables.quarantine must be different tables")
        return tables


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

    def describe(self) -> str:
        return "all dates" if self.whole_table else f"dates {self.start} to {self.end}"


def ensure_output_tables(spark: SparkSession, outputs: OutputTables) -> None:
    """Check all three tables before creating any, so a refused run leaves nothing behind."""
    declared = [(outputs.request_logs, request_logs.REQUEST_LOGS), (outputs.assessment_logs, assessment_logs.ASSESSMENT_LOGS),
                (outputs.quarantine, quarantine.QUARANTINE)]
    for location, schema in declared:
        delta_tables.check_table(spark, location, schema)
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
        delta_tables.write_table(_sample_frame(spark, sample), location)
    return location


def _sample_frame(spark: SparkSession, sample: SampleDataSettings) -> DataFrame:
    return synthetic_payload(spark, sample.rows, sample.seed, sample.generation, sample.body_sizes)


def _in_range(df: DataFrame, predicate: str | None) -> DataFrame:
    return df if predicate is None else df.where(F.expr(predicate))


# --- backfill: replace a range ------------------------------------------------------------


def _in_dates(payload: DataFrame, dates: DateRange) -> DataFrame:
    return payload if dates.whole_table else payload.where(date_range_filter(payload, dates.start, dates.end))


def _backfill(spark: SparkSession, settings: Settings, outputs: OutputTables, dates: DateRange,
              merge: bool, after_write: AfterWrite) -> tuple[RunReport, str]:
    source = payload_location(spark, settings)
    classified = classify_payload(_in_dates(delta_tables.read_source(spark, source), dates)).persist(CLASSIFIED_STORAGE)
    try:
        report = summarize(classified)
        if merge:
            if report.rows_read:
                report.checks = merge_and_verify(spark, classified, outputs, report, after_write)
            return report, f"{source}: {dates.describe()} (merged)"
        derived = derive_from_classified(classified)
        predicates = {
            outputs.request_logs: dates.date_predicate("date"),
            outputs.assessment_logs: dates.timestamp_predicate("timestamp"),
            outputs.quarantine: dates.date_predicate("date"),
        }
        for name, frame, location in _outputs_of(derived, outputs):
            delta_tables.replace_where(frame, location, predicates[location])
            _notify(after_write, name)
        written = {loc: _in_range(delta_tables.read_table(spark, loc), predicates[loc]) for loc in predicates}
        report.checks = verify_written(
            classified, derived.assessment_logs, written[outputs.request_logs],
            written[outputs.assessment_logs], written[outputs.quarantine], report, exact=True,
        )
        return report, f"{source}: {dates.describe()}"
    finally:
        classified.unpersist()


def _outputs_of(derived: DerivedTables, outputs: OutputTables):
    return [
        ("request_logs", derived.request_logs, outputs.request_logs),
        ("assessment_logs", derived.assessment_logs, outputs.assessment_logs),
        ("quarantine", derived.quarantine, outputs.quarantine),
    ]


def _notify(after_write: AfterWrite, name: str) -> None:
    if after_write is not None:
        after_write(name)


# --- hourly: merge what arrived since the last run ------------------------------------------

ASSESSMENT_IDENTITY = ", ".join(f"'{f.name}', {{side}}.{f.name}" for f in assessment_logs.ASSESSMENT_LOGS.fields)


def _sql_list(values) -> str:
    return ", ".join(f"'{value}'" for value in values)


def merge_and_verify(spark: SparkSession, classified: DataFrame, outputs: OutputTables, report: RunReport,
                     after_write: AfterWrite) -> dict[str, bool]:
    """Merge a batch into the three tables, then check them; returns the checks. The dates
    come from ``report`` (:func:`summarize` of the same rows), not from another read."""
    merge_batch(spark, classified, outputs, report.dates, after_write)
    return _verify_batch(spark, classified, outputs, report.dates, report)


def merge_batch(spark: SparkSession, classified: DataFrame, outputs: OutputTables, dates: list,
                after_write: AfterWrite) -> None:
    """Write one batch idempotently: merging the same batch twice leaves the tables as once.

    Request logs are keyed by (date, databricks_request_id) and keep the preferred of several
    rows; assessment rows and quarantine rows are keyed by their whole content.
    """
    derived = derive_from_classified(classified)
    date_list = _sql_list(dates) or "NULL"

    existing = delta_tables.read_table(spark, outputs.request_logs).where(F.col("date").isin(dates)).join(
        derived.request_logs.select("date", "databricks_request_id"), ["date", "databricks_request_id"], "left_semi")
    delta_tables.upsert(
        preferred_new_rows(derived.request_logs, existing), outputs.request_logs,
        on=f"t.date IN ({date_list}) AND t.date = s.date AND t.databricks_request_id = s.databricks_request_id",
    )
    _notify(after_write, "request_logs")

    bounds = derived.assessment_logs.agg(F.min("timestamp").alias("lo"), F.max("timestamp").alias("hi")).first()
    if bounds["lo"] is not None:
        delta_tables.insert_missing(
            derived.assessment_logs, outputs.assessment_logs,
            on=(f"t.timestamp >= '{bounds['lo']}' AND t.timestamp <= '{bounds['hi']}' "
                "AND t.timestamp = s.timestamp AND t.request_id <=> s.request_id "
                f"AND to_json(named_struct({ASSESSMENT_IDENTITY.format(side='t')})) "
                f"= to_json(named_struct({ASSESSMENT_IDENTITY.format(side='s')}))"),
        )
    _notify(after_write, "assessment_logs")

    delta_tables.insert_missing(
        derived.quarantine, outputs.quarantine,
        on=(f"(t.date IN ({date_list}) OR t.date IS NULL) AND t.date <=> s.date "
            "AND t.databricks_request_id <=> s.databricks_request_id AND t.reason = s.reason "
            "AND t.payload_row = s.payload_row"),
    )
    _notify(after_write, "quarantine")


def _verify_batch(spark: SparkSession, classified: DataFrame, outputs: OutputTables, dates: list,
                  report: RunReport) -> dict:
    derived = derive_from_classified(classified)
    logs = delta_tables.read_table(spark, outputs.request_logs).where(F.col("date").isin(dates))
    quarantined = delta_tables.read_table(spark, outputs.quarantine).where(F.col("date").isin(dates) | F.col("date").isNull())
    assessments = delta_tables.read_table(spark, outputs.assessment_logs).where(F.to_date("timestamp").isin(dates))
    return verify_written(classified, derived.assessment_logs, logs, assessments, quarantined, report, exact=False)


def _hourly(spark: SparkSession, settings: Settings, outputs: OutputTables,
            after_write: AfterWrite) -> tuple[RunReport, str]:
    if settings.state is None:
        raise ValueError("the hourly job needs a state section (state.checkpoint, state.lock) in the config")
    source = payload_location(spark, settings)
    stream = delta_tables.stream_table(spark, source, settings.state.max_files_per_batch)
    total = RunReport()

    def process(batch: DataFrame, batch_id: int) -> None:
        classified = classify_payload(batch).persist(CLASSIFIED_STORAGE)
        try:
            report = summarize(classified)
            if report.rows_read:
                report.checks = merge_and_verify(spark, classified, outputs, report, after_write)
            total.add(report)
            print(f"  batch {batch_id}: {report.rows_read} payload rows, "
                  f"{report.request_logs_rows} requests, {report.assessment_rows} assessments, "
                  f"{report.quarantined_rows} quarantined", flush=True)
        finally:
            classified.unpersist()

    progress = delta_tables.run_available_now(stream, settings.state.checkpoint, process, "inference-logs-hourly")
    versions = delta_tables.source_versions(progress)
    return total, f"{source}: {versions}"


# --- shared run flow ------------------------------------------------------------------------


def _record(spark: SparkSession, settings: Settings, row: dict) -> None:
    if not settings.tables.run_history:
        return
    location = TableLocation(settings.tables.run_history)
    delta_tables.ensure_table(spark, location, RUN_HISTORY)
    delta_tables.append(spark.createDataFrame([row], RUN_HISTORY), location)


def _refresh_latest(spark: SparkSession, settings: Settings, outputs: OutputTables) -> None:
    if not settings.tables.assessment_logs_latest:
        return
    latest = latest_assessments(delta_tables.read_table(spark, outputs.assessment_logs))
    delta_tables.replace_where(latest, TableLocation(settings.tables.assessment_logs_latest), None)


def _run(job: str, spark: SparkSession, settings: Settings, body) -> RunReport:
    outputs = OutputTables.from_settings(settings)
    run_id = str(uuid.uuid4())
    started = dt.datetime.now(dt.timezone.utc)
    lock = None
    if settings.state is not None:
        state = settings.state
        lock = RunLock(state.lock, run_id, job, state.lock_wait_seconds, state.lock_stale_after_seconds)
        lock.acquire()
    try:
        ensure_output_tables(spark, outputs)
        try:
            report, source = body(outputs)
        except Exception as exc:
            _record(spark, settings, _history_row(run_id, job, started, "failed", "", RunReport(), exc))
            raise
        _refresh_latest(spark, settings, outputs)
        status = "succeeded" if report.ok else "reconciliation_failed"
        _record(spark, settings, _history_row(run_id, job, started, status, source, report, None))
        report.run_id = run_id
        return report
    finally:
        if lock is not None:
            lock.release()


def _history_row(run_id, job, started, status, source, report: RunReport, error) -> dict:
    return {
        "run_id": run_id, "job": job, "started_at": started, "ended_at": dt.datetime.now(dt.timezone.utc),
        "status": status, "source": source, "rows_read": report.rows_read,
        "rows_written": {"request_logs": report.request_logs_rows, "assessment_logs": report.assessment_rows,
                         "quarantine": report.quarantined_rows},
        "quarantined": report.quarantine_reasons, "duplicates_collapsed": report.duplicates_collapsed,
        "balanced": report.balanced, "checks": report.checks,
        "error": None if error is None else "".join(traceback.format_exception_only(type(error), error)).strip(),
        "report": json.dumps(report.as_dict(), sort_keys=True),
    }


def run_backfill(spark: SparkSession, settings: Settings, dates: DateRange, merge: bool = False,
                 after_write: AfterWrite = None) -> RunReport:
    """Rebuild the three tables for a range of payload dates (or entirely): each table's range
    is replaced atomically, so a re-run gives identical tables.

    With ``merge``, the range is merged in as the hourly job does (keeping rows the range's
    payload does not hold): for outputs fed by several payload tables.
    """
    return _run("backfill", spark, settings,
                lambda outputs: _backfill(spark, settings, outputs, dates, merge, after_write))


def check_payload(spark: SparkSession, settings: Settings, dates: DateRange) -> RunReport:
    """Classify a payload table (or a range of it) and count what a run would produce, without
    writing anything: no output table, no lock, no sample table (generated in memory instead)."""
    sample = settings.sample_data
    if settings.tables.payload or sample is None or delta_tables.table_exists(spark, TableLocation(sample.table)):
        payload = delta_tables.read_source(spark, payload_location(spark, settings))
    else:
        payload = _sample_frame(spark, sample)
    return summarize(classify_payload(_in_dates(payload, dates)))


def run_hourly(spark: SparkSession, settings: Settings, after_write: AfterWrite = None) -> RunReport:
    """Process what arrived in the payload table since the last successful run (the whole
    history on the first run), however late its request time, and stop when caught up."""
    return _run("hourly", spark, settings, lambda outputs: _hourly(spark, settings, outputs, after_write))
