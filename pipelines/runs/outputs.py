"""The three output tables, declared once, and the passes that derive and write them.

Every run (backfill, hourly micro-batch, check) goes through :func:`derive_outputs`: one pass
per output, each counted while it runs, each written by a :class:`Writer` that says how (replace
a range, merge a batch, or discard for a dry run) and returns the rows its Delta commit wrote.
"""
from __future__ import annotations

import datetime as dt
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Callable, Optional

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql.types import StructType
from pyspark.util import inheritable_thread_target

from pipelines.errors import ConfigError
from pipelines.io import delta_tables
from pipelines.io.delta_tables import TableLocation
from pipelines.runs import report as counts
from pipelines.runs.report import RunReport
from pipelines.transforms import classify
from pipelines.transforms.derive import assessment_logs, classify_rows, quarantine, request_log_rows
from schemas import assessment_logs as assessment_schema
from schemas import quarantine as quarantine_schema
from schemas import request_logs as request_schema

#: Called with a table name after each write; lets tests interrupt a run between writes.
AfterWrite = Optional[Callable[[str], None]]

#: Up to this many repeated request ids are collected and their kept rows decided once per run;
#: beyond it duplicates are found and ranked with a join in every pass.
MAX_LISTED_REPEATED_IDS = 10_000

ASSESSMENT_IDENTITY = ", ".join(f"'{f.name}', {{side}}.{f.name}" for f in assessment_schema.ASSESSMENT_LOGS.fields)


def _sql_dates(dates: list[dt.date]) -> str:
    return ", ".join(f"DATE'{day.isoformat()}'" for day in dates) or "NULL"


@dataclass(frozen=True)
class Output:
    """One output table: its schema, layout, how a batch merges into it, how a range is named."""
    name: str
    schema: StructType
    partition_by: str | None
    cluster_by: str | None
    #: The column a backfill's date range is replaced on (a date, or a timestamp).
    range_column: str
    #: MERGE ... ON, for a batch of the given payload dates (t: the table, s: the batch).
    merge_on: Callable[[list[dt.date]], str]
    #: When a matched row is replaced by the batch's (None: never; rows not matched are inserted).
    update_when: str | None


REQUEST_LOGS = Output(
    "request_logs", request_schema.REQUEST_LOGS, request_schema.PARTITION_COLUMN, None, "date",
    lambda dates: (f"t.date IN ({_sql_dates(dates)}) AND t.date = s.date "
                   "AND t.databricks_request_id = s.databricks_request_id"),
    # a request id already there is replaced only by a row the duplicate rule prefers
    f"{classify.preference_key_sql('s.')} < {classify.preference_key_sql('t.')}",
)
ASSESSMENT_LOGS = Output(
    "assessment_logs", assessment_schema.ASSESSMENT_LOGS, None, assessment_schema.CLUSTER_COLUMN, "timestamp",
    # feedback rows are quarantined unless their timestamp falls on their date
    lambda dates: (f"CAST(t.timestamp AS DATE) IN ({_sql_dates(dates)}) AND t.timestamp = s.timestamp "
                   "AND t.request_id <=> s.request_id "
                   f"AND to_json(named_struct({ASSESSMENT_IDENTITY.format(side='t')})) "
                   f"= to_json(named_struct({ASSESSMENT_IDENTITY.format(side='s')}))"),
    None,
)
QUARANTINE = Output(
    "quarantine", quarantine_schema.QUARANTINE, quarantine_schema.PARTITION_COLUMN, None, "date",
    lambda dates: (f"(t.date IN ({_sql_dates(dates)}) OR t.date IS NULL) AND t.date <=> s.date "
                   "AND t.databricks_request_id <=> s.databricks_request_id AND t.reason = s.reason "
                   "AND t.payload_row = s.payload_row"),
    None,
)

OUTPUTS = (REQUEST_LOGS, ASSESSMENT_LOGS, QUARANTINE)


class OutputTables(dict):
    """Output name -> TableLocation, from the config."""

    @classmethod
    def from_settings(cls, settings) -> "OutputTables":
        tables = cls({output.name: TableLocation(getattr(settings.tables, output.name)) for output in OUTPUTS})
        if len(set(tables.values())) < len(OUTPUTS):
            raise ConfigError("tables.request_logs, tables.assessment_logs and tables.quarantine must be different tables")
        return tables


def ensure_output_tables(spark: SparkSession, tables: OutputTables) -> None:
    """Check all three tables before creating any, so a refused run leaves nothing behind."""
    exists = {output.name: delta_tables.check_table(spark, tables[output.name], output.schema) for output in OUTPUTS}
    for output in OUTPUTS:
        if not exists[output.name]:
            delta_tables.create_table(spark, tables[output.name], output.schema,
                                      partition_by=output.partition_by, cluster_by=output.cluster_by)


# --- writers -------------------------------------------------------------------------------


class Writer:
    """How a run writes each output. ``write`` returns the rows the commit wrote, or None when
    nothing is written (a dry run)."""

    def write(self, output: Output, rows: DataFrame) -> int | None:
        raise NotImplementedError

    def checks(self, derived: dict[str, int], written: dict[str, int]) -> dict[str, bool]:
        """Each output's commit against the rows its pass derived."""
        return {}


class Discard(Writer):
    """Derive and count, write nothing (``check``)."""

    def write(self, output: Output, rows: DataFrame) -> int | None:
        delta_tables.discard(rows)
        return None


class _Committing(Writer):
    def __init__(self, spark: SparkSession, tables: OutputTables, versions: dict[str, int] | None = None):
        self.spark, self.tables = spark, tables
        #: The version each table was at before this run's next write to it (given, or looked up
        #: by the write's own thread): a write that creates no commit (a merge with nothing to
        #: change) wrote no row.
        self.versions: dict[str, int] = dict(versions or {})
        #: Rows each MERGE read from its source, from its commit; None where the MERGE made no
        #: commit: Delta skips it when every source row matched and none was to be written.
        self.source_rows: dict[str, int | None] = {}

    def _write(self, output: Output, rows: DataFrame) -> None:
        raise NotImplementedError

    def write(self, output: Output, rows: DataFrame) -> int:
        location = self.tables[output.name]
        if output.name not in self.versions:
            self.versions[output.name] = delta_tables.last_commit(self.spark, location).version
        self._write(output, rows)
        commit = delta_tables.last_commit(self.spark, location)
        if commit.version == self.versions[output.name]:
            self.source_rows[output.name] = None
            return 0
        self.versions[output.name] = commit.version
        self.source_rows[output.name] = commit.metric("numSourceRows")
        return commit.rows_written


class ReplaceRange(_Committing):
    """Replace each table's rows of a date range (all rows when the range is the whole table)."""

    def __init__(self, spark: SparkSession, tables: OutputTables, predicates: dict[str, str | None]):
        super().__init__(spark, tables)
        self.predicates = predicates

    def _write(self, output: Output, rows: DataFrame) -> None:
        delta_tables.replace_where(rows, self.tables[output.name], self.predicates[output.name])

    def checks(self, derived: dict[str, int], written: dict[str, int]) -> dict[str, bool]:
        """Each table's range now holds exactly the rows its pass derived."""
        return {f"{name}_commit_wrote_every_row": written[name] == derived[name] for name in derived}


class MergeBatch(_Committing):
    """Merge a batch of the given payload dates idempotently: merging it twice leaves the tables
    as once. Request logs are keyed by (date, databricks_request_id) and keep the preferred of
    several rows; assessment rows and quarantine rows are keyed by their whole content."""

    def __init__(self, spark: SparkSession, tables: OutputTables, dates: list[dt.date],
                 versions: dict[str, int] | None = None):
        super().__init__(spark, tables, versions)
        self.dates = dates

    def _write(self, output: Output, rows: DataFrame) -> None:
        delta_tables.merge_into(rows, self.tables[output.name], output.merge_on(self.dates), output.update_when)

    def checks(self, derived: dict[str, int], written: dict[str, int]) -> dict[str, bool]:
        """Each MERGE read every derived row (a row already there is not written again). A MERGE
        that made no commit found every derived row there already."""
        return {f"{name}_merge_read_every_row": self.source_rows[name] in (None, derived[name])
                and written[name] <= derived[name] for name in derived}


# --- the passes --------------------------------------------------------------------------------


def decide_duplicates(normalized: DataFrame, ids_from: DataFrame | None = None):
    """How the passes of a run collapse repeated request ids (see classify.collapse_duplicates):
    one narrow look at the id column finds them; when there are few, one look at their rows
    decides which row each keeps (:class:`classify.KeptRows`), so no pass scans the payload
    twice; when there are many, the frame that finds them (each pass ranks them with a join).
    ``ids_from``: the same rows with an observation on them, for the look at the id column."""
    found = classify.repeated_ids(normalized if ids_from is None else ids_from)
    ids = [row[0] for row in found.select(classify.REQUEST_ID).limit(MAX_LISTED_REPEATED_IDS + 1).collect()]
    if len(ids) > MAX_LISTED_REPEATED_IDS:
        return classify.repeated_ids(normalized)
    return classify.decide_kept_rows(normalized, ids) if ids else []


def look_at_batch(normalized: DataFrame) -> tuple[list[dt.date], object]:
    """A batch's payload dates and :func:`decide_duplicates` of it, from one narrow look: the
    dates are observed while the ids are grouped (which reads every row)."""
    watched, dates = counts.observed(normalized, "payload_dates", [F.collect_set("date").alias("dates")])
    repeated = decide_duplicates(normalized, ids_from=watched)
    return sorted(day for day in dates.get["dates"] or [] if day is not None), repeated


def payload_dates(normalized: DataFrame) -> list[dt.date]:
    """The distinct payload dates of a frame (one narrow look at the date column)."""
    return sorted(row[0] for row in normalized.select("date").distinct().collect() if row[0] is not None)


def derive_outputs(normalized: DataFrame, writer: Writer, after_write: AfterWrite = None,
                   repeated=None) -> RunReport:
    """Derive and write the three outputs of a normalized payload frame, one pass each, and
    return the run's counts and checks. The three passes run at once, each in its own thread
    (:func:`in_parallel`): they share no frame, and a pass's planning, Delta commit and last
    tasks then overlap the others' work instead of leaving the cores idle."""
    if repeated is None:
        repeated = decide_duplicates(normalized)
    classified = classify_rows(normalized, repeated)
    # The assessment-logs pass classifies only the rows whose request body may hold feedback.
    feedback = classify_rows(normalized, repeated, feedback_only=True)

    def request_logs_pass():
        counted, classified_counts = counts.observed(classified, "classified", counts.classified_metrics())
        logs, log_counts = counts.observed(request_log_rows(counted), "request_logs", counts.request_log_metrics())
        written = writer.write(REQUEST_LOGS, logs.select(*REQUEST_LOGS.schema.fieldNames()))
        _notify(after_write, REQUEST_LOGS.name)
        return written, classified_counts.get, log_counts.get

    def output_pass(output: Output, classified_rows: DataFrame, frame):
        # Observed before the pass filters on the destination: Spark does not push a filter below
        # an observation. Pushed down, the filter carried the whole classification, with the
        # request body parsed once per reference to it (about twenty times per row).
        settled, settled_counts = counts.observed(classified_rows, f"{output.name}_classified", counts.output_metrics())
        rows, observation = counts.observed(frame(settled), output.name, counts.output_metrics())
        written = writer.write(output, rows)
        _notify(after_write, output.name)
        return written, int(settled_counts.get["derived"]), int(observation.get["derived"])

    done = in_parallel(normalized.sparkSession, {
        REQUEST_LOGS.name: request_logs_pass,
        ASSESSMENT_LOGS.name: lambda: output_pass(ASSESSMENT_LOGS, feedback, assessment_logs),
        QUARANTINE.name: lambda: output_pass(QUARANTINE, classified, quarantine),
    })
    report = RunReport()
    log_written, classified_metrics, log_metrics = done[REQUEST_LOGS.name]
    counts.apply_classified(report, classified_metrics)
    counts.apply_request_logs(report, log_metrics)
    written = {REQUEST_LOGS.name: log_written}
    derived = {REQUEST_LOGS.name: int(log_metrics["derived"])}
    classified_by_pass = {}
    for output in (ASSESSMENT_LOGS, QUARANTINE):
        written[output.name], classified_by_pass[output.name], derived[output.name] = done[output.name]

    expected = {REQUEST_LOGS.name: report.request_logs_rows, ASSESSMENT_LOGS.name: report.assessment_rows,
                QUARANTINE.name: report.quarantined_rows}
    report.checks = {f"{name}_derived_once": derived[name] == expected[name] for name in expected}
    report.checks["shapes_declared"] = int(log_metrics["undeclared_shapes"]) == 0
    # the quarantine pass classified the same rows as the request-logs pass
    report.checks["quarantine_pass_saw_every_row"] = (
        classified_by_pass[QUARANTINE.name] == report.rows_read - report.duplicates_collapsed)
    if all(count is not None for count in written.values()):
        report.rows_written = {name: int(count) for name, count in written.items()}
        report.checks.update(writer.checks(derived, report.rows_written))
    return report


def in_parallel(spark: SparkSession, tasks: dict[str, Callable[[], object]]) -> dict[str, object]:
    """Run each task in its own thread (Spark runs jobs from several threads at once, on classic
    Spark and Spark Connect alike) and return their results by name. Returns only when every
    task has ended, so no write is still running when the caller moves on; then raises the first
    failure, in the order the tasks were given."""
    with ThreadPoolExecutor(max_workers=len(tasks), thread_name_prefix="inference-logs-pass") as pool:
        futures = {name: pool.submit(inheritable_thread_target(spark)(task)) for name, task in tasks.items()}
    # leaving the block waited for every task
    for future in futures.values():
        if future.exception() is not None:
            raise future.exception()
    return {name: future.result() for name, future in futures.items()}


def _notify(after_write: AfterWrite, name: str) -> None:
    if after_write is not None:
        after_write(name)
