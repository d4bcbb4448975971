"""The three passes of a run, one per output table, each counted while it runs.

Nothing is cached between them (serverless compute has no cache), so each pass reads the
payload itself, and only what it needs:

- the request-logs pass reads every column: the rules read each request and response once;
- the assessment-logs pass reads the narrow columns and the request body, and hands the rules
  only the bodies that may hold feedback;
- the quarantine pass reads the narrow columns and the request body.

Each pass collapses duplicate request ids itself (:mod:`pipelines.transforms.duplicates`) and
classifies its rows with the same rules (:mod:`pipelines.rules.classify`), applied per Arrow
batch, so they agree by construction; the run's counts prove it (:mod:`pipelines.runs.report`).
The passes run at once, each in its own thread.
"""
from __future__ import annotations

import datetime as dt
from typing import Callable

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from pipelines.runs import report as counts
from pipelines.runs.outputs import ASSESSMENT_LOGS, QUARANTINE, REQUEST_DETAILS, REQUEST_LOGS, Output
from pipelines.runs.writers import AfterWrite, RowsWhere, Writer
from pipelines.runs.parallel import in_parallel
from pipelines.runs.report import RunReport
from pipelines.transforms.assessment_logs import assessment_log_rows, derive_feedback
from pipelines.transforms.duplicates import REQUEST_ID, KeptRows, collapse_duplicates, kept_rows, repeated_ids
from pipelines.transforms.quarantine import derive_quarantine, quarantine_rows
from pipelines.transforms.request_details import derive_request_details, request_detail_rows
from pipelines.transforms.request_logs import derive_request_logs, request_log_rows

#: Up to this many repeated request ids are collected once per run; beyond it each pass finds
#: and ranks them itself, with a join.
MAX_LISTED_REPEATED_IDS = 10_000
#: Their kept rows are gathered once per run (:class:`KeptRows`) when there are at most this many
#: ids and no kept row's bodies exceed :data:`MAX_KEPT_ROW_BYTES` (at most 512 MiB in all); else
#: each pass ranks their rows itself (a second scan).
MAX_GATHERED_IDS = 2_000
MAX_KEPT_ROW_BYTES = 256 * 1024

#: The body only the request-logs pass reads.
RESPONSE = "response_raw"


def find_repeated_ids(normalized: DataFrame, ids_from: DataFrame | None = None
                      ) -> "KeptRows | list[str] | DataFrame":
    """How the passes collapse repeated request ids (see :func:`collapse_duplicates`), from one
    narrow look at the id column: their :class:`KeptRows` when few (one more look, at their
    rows), else their list, else the frame that finds them (each pass joins it). ``ids_from``:
    the same rows with an observation on them."""
    found = repeated_ids(normalized if ids_from is None else ids_from)
    ids = sorted(row[0] for row in found.select(REQUEST_ID).limit(MAX_LISTED_REPEATED_IDS + 1).collect())
    if len(ids) > MAX_LISTED_REPEATED_IDS:
        return repeated_ids(normalized)
    if ids and len(ids) <= MAX_GATHERED_IDS:
        return kept_rows(normalized, ids, MAX_KEPT_ROW_BYTES) or ids
    return ids


def look_at_batch(normalized: DataFrame) -> tuple[list[dt.date], "list[str] | DataFrame"]:
    """A batch's payload dates and its repeated ids, from one narrow look: the dates are observed
    while the ids are grouped (which reads every row)."""
    watched, dates = counts.observed(normalized, "payload_dates", [F.collect_set("date").alias("dates")])
    repeated = find_repeated_ids(normalized, ids_from=watched)
    return sorted(day for day in dates.get["dates"] or [] if day is not None), repeated


def payload_dates(normalized: DataFrame) -> list[dt.date]:
    """The distinct payload dates of a frame (one narrow look at the date column)."""
    return sorted(row[0] for row in normalized.select("date").distinct().collect() if row[0] is not None)


def _write(writer: Writer, output: Output, rows: DataFrame, after_write: AfterWrite,
           rows_where: RowsWhere | None = None) -> int | None:
    written = writer.write(output, rows, rows_where)
    if after_write is not None:
        after_write(output.name)
    return written


def request_logs_pass(normalized: DataFrame, repeated, writer: Writer, after_write: AfterWrite = None):
    """Every payload row's counts (read, collapsed, status, dates, destinations) and the
    request-logs rows."""
    collapsed = collapse_duplicates(normalized, repeated, by_response=True)
    fields = REQUEST_LOGS.schema.fieldNames()
    read, read_counts = counts.observed(derive_request_logs(collapsed), "request_logs_read", counts.read_metrics())
    logs, log_counts = counts.observed(request_log_rows(read), "request_logs", counts.request_log_metrics())

    def rows_where(predicate: Column) -> DataFrame:
        """The request-logs rows of the payload rows ``predicate`` selects, without the counts
        (an observation would stop the filter and the column pruning at it)."""
        return request_log_rows(derive_request_logs(collapsed.where(predicate))).select(*fields)

    written = _write(writer, REQUEST_LOGS, logs.select(*fields), after_write, rows_where)
    return written, read_counts.get, log_counts.get


def request_details_pass(normalized: DataFrame, repeated, writer: Writer, after_write: AfterWrite = None):
    """The request-details rows (optional): the request-logs pass's rows, read for their token
    usage, retrieved documents and tool calls."""
    collapsed = collapse_duplicates(normalized, repeated, by_response=True)
    rows, derived = counts.observed(request_detail_rows(derive_request_details(collapsed)), "request_details",
                                    counts.output_metrics())

    def rows_where(predicate: Column) -> DataFrame:
        return request_detail_rows(derive_request_details(collapsed.where(predicate)))

    written = _write(writer, REQUEST_DETAILS, rows, after_write, rows_where)
    return written, derived.get


def quarantine_pass(narrow: DataFrame, repeated, writer: Writer, after_write: AfterWrite = None):
    """The quarantined rows, classified from the narrow columns and the request body."""
    classified, settled_counts = counts.observed(derive_quarantine(collapse_duplicates(narrow, repeated)),
                                                 "quarantine_classified", counts.quarantine_metrics())
    rows, derived = counts.observed(quarantine_rows(classified), "quarantine", counts.output_metrics())
    written = _write(writer, QUARANTINE, rows, after_write)
    return written, settled_counts.get, derived.get


def assessment_logs_pass(narrow: DataFrame, repeated, writer: Writer, after_write: AfterWrite = None):
    """The assessments of the feedback rows; only bodies that may hold feedback go to the rules."""
    read, read_counts = counts.observed(collapse_duplicates(narrow, repeated), "assessment_logs_read",
                                        counts.rows_read_metrics())
    classified, feedback_counts = counts.observed(derive_feedback(read), "assessment_logs_classified",
                                                  counts.feedback_metrics())
    rows, derived = counts.observed(assessment_log_rows(classified), "assessment_logs", counts.output_metrics())
    written = _write(writer, ASSESSMENT_LOGS, rows, after_write)
    return written, {**read_counts.get, **feedback_counts.get}, derived.get


def output_rows(distinct: DataFrame, with_details: bool = False) -> dict[str, DataFrame]:
    """Each output table's rows of distinct payload rows (normalized, one per request id),
    without the counts: what the passes write, for ``verify`` and the tests."""
    rows = {REQUEST_LOGS.name: request_log_rows(derive_request_logs(distinct)).select(*REQUEST_LOGS.schema.fieldNames()),
            ASSESSMENT_LOGS.name: assessment_log_rows(derive_feedback(distinct)),
            QUARANTINE.name: quarantine_rows(derive_quarantine(distinct))}
    if with_details:
        rows[REQUEST_DETAILS.name] = request_detail_rows(derive_request_details(distinct))
    return rows


def derive_outputs(normalized: DataFrame, writer: Writer, after_write: AfterWrite = None,
                   repeated: "KeptRows | list[str] | DataFrame | None" = None,
                   with_details: bool = False) -> RunReport:
    """Derive and write the three outputs of a normalized payload frame, one pass each, at once,
    and return the run's counts and checks. ``repeated``: the repeated request ids
    (:func:`find_repeated_ids`), found here when not given. ``with_details``: derive and write
    the request details too (a fourth pass, which reads the response bodies again)."""
    if repeated is None:
        repeated = find_repeated_ids(normalized)
    narrow = normalized.drop(RESPONSE)
    tasks: dict[str, Callable[[], tuple]] = {
        REQUEST_LOGS.name: lambda: request_logs_pass(normalized, repeated, writer, after_write),
        ASSESSMENT_LOGS.name: lambda: assessment_logs_pass(narrow, repeated, writer, after_write),
        QUARANTINE.name: lambda: quarantine_pass(narrow, repeated, writer, after_write),
    }
    if with_details:
        tasks[REQUEST_DETAILS.name] = lambda: request_details_pass(normalized, repeated, writer, after_write)
    done = in_parallel(normalized.sparkSession, tasks)
    return _report(done, writer)


def _report(done: dict[str, tuple], writer: Writer) -> RunReport:
    (log_written, read, logs), (quarantine_written, quarantined, quarantine_derived), \
        (assessment_written, feedback, assessment_derived) = (
            done[REQUEST_LOGS.name], done[QUARANTINE.name], done[ASSESSMENT_LOGS.name])
    report = RunReport()
    counts.apply_counts(report, read)
    counts.apply_counts(report, {key: value for key, value in quarantined.items()
                                 if key not in ("rows_read", "duplicates_collapsed")})
    counts.apply_counts(report, {key: feedback[key] for key in ("feedback_rows", "assessment_rows")})
    counts.apply_request_logs(report, logs)

    derived = {REQUEST_LOGS.name: int(logs["derived"]), QUARANTINE.name: int(quarantine_derived["derived"]),
               ASSESSMENT_LOGS.name: int(assessment_derived["derived"])}
    expected = {REQUEST_LOGS.name: report.request_logs_rows, ASSESSMENT_LOGS.name: report.assessment_rows,
                QUARANTINE.name: report.quarantined_rows}
    if REQUEST_DETAILS.name in done:  # one details row per request-logs row
        details_written, details_derived = done[REQUEST_DETAILS.name]
        derived[REQUEST_DETAILS.name] = int(details_derived["derived"])
        expected[REQUEST_DETAILS.name] = report.request_logs_rows
    report.checks = {f"{name}_derived_once": derived[name] == expected[name] for name in expected}
    report.checks["shapes_declared"] = int(logs["undeclared_shapes"]) == 0
    report.checks["reasons_declared"] = int(quarantined["undeclared_reasons"]) == 0
    # every pass read the same payload rows and collapsed the same duplicates
    report.checks["passes_read_the_same_rows"] = all(
        int(other[key]) == getattr(report, key)
        for other in (quarantined, feedback) for key in ("rows_read", "duplicates_collapsed"))
    written = {REQUEST_LOGS.name: log_written, QUARANTINE.name: quarantine_written,
               ASSESSMENT_LOGS.name: assessment_written}
    if REQUEST_DETAILS.name in done:
        written[REQUEST_DETAILS.name] = details_written
    if all(count is not None for count in written.values()):
        report.rows_written = {name: int(count) for name, count in written.items()}
        report.checks.update(writer.checks(derived, report.rows_written))
    return report
