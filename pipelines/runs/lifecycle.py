"""What every run shares: the payload it reads, the date range, the lock, the output tables'
checks, the latest-feedback table and the run history.

Transforms are pure (:mod:`pipelines.transforms`); every read and write goes through
:mod:`pipelines.io`.
"""
from __future__ import annotations

import datetime as dt
import json
import traceback
import uuid
from dataclasses import dataclass
from typing import Callable

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from pipelines.config import SampleDataSettings, Settings
from pipelines.errors import ConfigError
from pipelines.io import delta_tables
from pipelines.io.delta_tables import TableLocation
from pipelines.io.run_lease import RunLease
from pipelines.runs.outputs import OutputTables, ensure_output_tables
from pipelines.runs.parallel import in_parallel
from pipelines.runs.report import RunReport
from pipelines.samples.synthetic_payloads import synthetic_payload
from pipelines.transforms.latest_feedback import latest_assessments, latest_merge_sql
from pipelines.transforms.normalize import date_range_filter
from schemas.run_history import RUN_HISTORY


def dates_predicate(column: str, first: dt.date | None, last: dt.date | None) -> str | None:
    """SQL predicate on a date or timestamp ``column``: the days ``first`` to ``last``
    (inclusive); a side given as None is open. None when both are."""
    parts = [] if first is None else [f"{column} >= '{first}'"]
    parts += [] if last is None else [f"{column} < '{last + dt.timedelta(days=1)}'"]
    return " AND ".join(parts) or None


@dataclass(frozen=True)
class DateRange:
    """Inclusive range of payload dates; both None means the whole table."""
    start: dt.date | None = None
    end: dt.date | None = None

    def __post_init__(self):
        if (self.start is None) != (self.end is None):
            raise ConfigError("give both --start-date and --end-date, or neither for the whole table")
        if self.start is not None and self.start > self.end:
            raise ConfigError(f"--start-date {self.start} is after --end-date {self.end}")

    @property
    def whole_table(self) -> bool:
        return self.start is None

    def predicate(self, column: str) -> str | None:
        """SQL predicate on a date or timestamp column (None: the whole table)."""
        return None if self.whole_table else dates_predicate(column, self.start, self.end)

    def describe(self) -> str:
        return "all dates" if self.whole_table else f"dates {self.start} to {self.end}"

    def of(self, payload: DataFrame) -> DataFrame:
        """The payload rows of the range (filters on the raw columns, so Delta can prune files)."""
        return payload if self.whole_table else payload.where(date_range_filter(payload, self.start, self.end))


def payload_location(spark: SparkSession, settings: Settings) -> TableLocation:
    """The configured payload table; when none is configured, a sample payload table is written
    first (once) from settings.sample_data."""
    if settings.tables.payload:
        return TableLocation(settings.tables.payload)
    sample = settings.sample_data
    if sample is None:
        raise ConfigError("tables.payload is not set and there is no sample_data section to generate one from")
    location = TableLocation(sample.table)
    if not delta_tables.table_exists(spark, location):
        delta_tables.write_table(sample_frame(spark, sample), location)
    return location


def sample_frame(spark: SparkSession, sample: SampleDataSettings) -> DataFrame:
    return synthetic_payload(spark, sample.rows, sample.seed, sample.generation, sample.body_sizes)


def _record(spark: SparkSession, settings: Settings, row: dict) -> None:
    if not settings.tables.run_history:
        return
    location = TableLocation(settings.tables.run_history)
    delta_tables.ensure_table(spark, location, RUN_HISTORY)
    delta_tables.append(spark.createDataFrame([row], RUN_HISTORY), location)


def _refresh_latest(spark: SparkSession, settings: Settings, outputs: OutputTables, dates) -> None:
    """Keep the latest-feedback table: with ``dates`` (an hourly run), merge in the latest ratings
    of those dates only, so the cost follows the new feedback; else (a backfill, which may
    remove ratings) rebuild it from the whole assessment logs."""
    if not settings.tables.assessment_logs_latest:
        return
    location = TableLocation(settings.tables.assessment_logs_latest)
    assessments = delta_tables.read_table(spark, outputs["assessment_logs"])
    if dates is None or not delta_tables.table_exists(spark, location):
        delta_tables.replace_where(latest_assessments(assessments), location, None)
    elif dates:
        batch = assessments.where(F.to_date("timestamp").isin(dates))
        on, update_when = latest_merge_sql(assessments.columns)
        delta_tables.merge_into(latest_assessments(batch), location, on, update_when)


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


def _outcome(function: Callable[[], object]) -> tuple[object, Exception | None]:
    try:
        return function(), None
    except Exception as exc:  # noqa: BLE001 - handed back to the caller, which raises it
        return None, exc


def run_job(job: str, spark: SparkSession, settings: Settings, body: Callable[[OutputTables, str, object], tuple[RunReport, str]],
            incremental: bool = False, prepare: Callable[[], object] | None = None) -> RunReport:
    """Hold the lease, check and create the output tables, run ``body(outputs, run_id, prepared)``,
    refresh the latest feedback (``incremental``: from the dates the run read only) and record
    the run.

    ``prepare()`` (optional; its result is ``prepared``) looks at the payload and writes nothing:
    when the payload table is configured it runs while the lease is being taken, so the run does
    not wait for one and then the other (when it is not, the sample table it may have to write
    first is written under the lease). Once the outputs are written, the lease is released while
    the run history's row is appended (appends never conflict with another run's)."""
    outputs = OutputTables.from_settings(settings)
    run_id = str(uuid.uuid4())
    started = dt.datetime.now(dt.timezone.utc)
    lease = None
    if settings.state is not None:
        state = settings.state
        lease = RunLease(spark, state.lock, str(outputs["request_logs"]), run_id, job,
                         state.lock_wait_seconds, state.lease_seconds)
    early = prepare is not None and bool(settings.tables.payload)
    try:
        ahead = {"lease": lease.acquire} if lease is not None else {}
        if early:  # its failure is raised below, where a failed run is recorded
            ahead["prepared"] = lambda: _outcome(prepare)
        done = in_parallel(spark, ahead) if ahead else {}
        ensure_output_tables(spark, outputs)
        try:
            if early:
                prepared, error = done["prepared"]
                if error is not None:
                    raise error
            else:
                prepared = prepare() if prepare is not None else None
            report, source = body(outputs, run_id, prepared)
        except Exception as exc:
            _record(spark, settings, _history_row(run_id, job, started, "failed", "", RunReport(), exc))
            raise
        _refresh_latest(spark, settings, outputs, report.dates if incremental else None)
        if lease is not None and lease.lost:  # another run took the lease over: this one overran it
            report.checks["lease_held_throughout"] = False
        status = "succeeded" if report.ok else "reconciliation_failed"
        row = _history_row(run_id, job, started, status, source, report, None)
        in_parallel(spark, {"history": lambda: _record(spark, settings, row),
                            **({"release": lease.release} if lease is not None else {})})
        report.run_id = run_id
        return report
    finally:
        if lease is not None and lease.held:
            lease.release()
