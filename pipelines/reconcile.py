"""Counts that prove a run lost nothing.

:func:`summarize` counts the classified rows; the run report is balanced when every payload row
read is accounted for exactly once:

    rows_read = request_logs rows + feedback rows (-> assessment logs) + quarantined rows
                + duplicates collapsed

:func:`verify_written` then checks the written tables themselves against the classified rows.
"""
from __future__ import annotations

import datetime as dt
from collections import Counter
from dataclasses import asdict, dataclass, field

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from pipelines import classify
from pipelines.payload_input import payload_row_json


@dataclass
class RunReport:
    rows_read: int = 0
    duplicates_collapsed: int = 0
    request_logs_rows: int = 0
    feedback_rows: int = 0
    assessment_rows: int = 0
    quarantined_rows: int = 0
    quarantine_reasons: dict[str, int] = field(default_factory=dict)
    status_codes: dict[str, int] = field(default_factory=dict)
    request_shapes: dict[str, int] = field(default_factory=dict)
    response_shapes: dict[str, int] = field(default_factory=dict)
    trace_formats: dict[str, int] = field(default_factory=dict)
    missing_request_text: dict[str, int] = field(default_factory=dict)
    missing_answer_text: dict[str, int] = field(default_factory=dict)
    checks: dict[str, bool] = field(default_factory=dict)
    #: The payload dates of the rows read (null dates left out): the partitions a merge touches.
    dates: list[dt.date] = field(default_factory=list)
    run_id: str | None = None

    def add(self, other: "RunReport") -> None:
        """Accumulate another batch's report into this one."""
        for name in ("rows_read", "duplicates_collapsed", "request_logs_rows", "feedback_rows",
                     "assessment_rows", "quarantined_rows"):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        for name in ("quarantine_reasons", "status_codes", "request_shapes", "response_shapes", "trace_formats",
                     "missing_request_text", "missing_answer_text"):
            merged = Counter(getattr(self, name))
            merged.update(getattr(other, name))
            setattr(self, name, dict(sorted(merged.items())))
        for check, passed in other.checks.items():
            self.checks[check] = self.checks.get(check, True) and passed
        self.dates = sorted(set(self.dates) | set(other.dates))

    @property
    def balanced(self) -> bool:
        return self.rows_read == (
            self.request_logs_rows + self.feedback_rows + self.quarantined_rows + self.duplicates_collapsed
        )

    @property
    def ok(self) -> bool:
        return self.balanced and all(self.checks.values())

    def as_dict(self) -> dict:
        return {**asdict(self), "dates": [day.isoformat() for day in self.dates],
                "balanced": self.balanced, "ok": self.ok}


def summarize(classified: DataFrame) -> RunReport:
    """One small aggregation over the classified rows, collected to the driver. It also gives
    the batch's dates, so that a merge need not read the rows again to find them."""
    dest = F.col("destination")
    groups = classified.groupBy(
        "date", "destination", "reason", "status_code", "request_shape", "response_shape", "schema_version",
        F.col("request").isNull().alias("no_request_text"), F.col("response").isNull().alias("no_answer_text"),
    ).agg(
        F.count(F.lit(1)).alias("rows"),
        F.sum("duplicates_collapsed").alias("duplicates"),
        F.sum(F.when(dest == classify.ASSESSMENT_LOGS, F.size("assessments")).otherwise(0)).alias("assessments"),
    )
    report = RunReport()
    reasons, statuses, requests, responses, traces, no_query, no_answer = (Counter() for _ in range(7))
    dates = set()
    for row in groups.collect():
        rows, duplicates = row["rows"], row["duplicates"] or 0
        if row["date"] is not None:
            dates.add(row["date"])
        statuses["none" if row["status_code"] is None else str(row["status_code"])] += rows + duplicates
        report.rows_read += rows + duplicates
        report.duplicates_collapsed += duplicates
        report.assessment_rows += row["assessments"] or 0
        if row["destination"] == classify.QUARANTINE:
            report.quarantined_rows += rows
            reasons[row["reason"]] += rows
            continue
        if row["destination"] == classify.ASSESSMENT_LOGS:
            report.feedback_rows += rows
            continue
        report.request_logs_rows += rows
        requests[row["request_shape"]] += rows
        responses[row["response_shape"]] += rows
        traces[row["schema_version"] or "unrecognized"] += rows
        if row["no_request_text"]:
            no_query[row["request_shape"]] += rows
        if row["no_answer_text"]:
            no_answer[row["response_shape"]] += rows
    report.quarantine_reasons = dict(sorted(reasons.items()))
    report.status_codes = dict(sorted(statuses.items()))
    report.request_shapes = dict(sorted(requests.items()))
    report.response_shapes = dict(sorted(responses.items()))
    report.trace_formats = dict(sorted(traces.items()))
    report.missing_request_text = dict(sorted(no_query.items()))
    report.missing_answer_text = dict(sorted(no_answer.items()))
    report.dates = sorted(dates)
    return report


def _row_text(df: DataFrame) -> DataFrame:
    """Each row as one JSON string, so rows with map columns can be compared."""
    return df.select(F.to_json(F.struct(*df.columns)).alias("row"))


def verify_written(
    classified: DataFrame,
    expected_assessments: DataFrame,
    request_logs: DataFrame,
    assessment_logs: DataFrame,
    quarantine: DataFrame,
    report: RunReport,
    exact: bool,
) -> dict[str, bool]:
    """Check the written tables (already restricted to the run's range) against the run.

    Every derived request id is in request logs, every expected assessment row is in assessment
    logs, every quarantined row is in quarantine. With ``exact`` (a backfill that replaced the
    range), the tables' counts in the range must also equal the run's counts.
    """
    expected_ids = classified.where(F.col("destination") == classify.REQUEST_LOGS).select("databricks_request_id")
    quarantined = classified.where(F.col("destination") == classify.QUARANTINE).select(
        "databricks_request_id", "reason", payload_row_json(F.col("payload_row")).alias("payload_row"))
    checks = {
        "request_logs_has_every_request": expected_ids.join(
            request_logs.select("databricks_request_id"), "databricks_request_id", "left_anti").isEmpty(),
        "assessment_logs_has_every_assessment": _row_text(expected_assessments).exceptAll(
            _row_text(assessment_logs)).isEmpty(),
        "quarantine_has_every_quarantined_row": quarantined.join(
            quarantine.select("databricks_request_id", "reason", "payload_row"),
            on=[quarantined[c].eqNullSafe(quarantine[c]) for c in ("databricks_request_id", "reason", "payload_row")],
            how="left_anti").isEmpty(),
    }
    if exact:
        checks["request_logs_count_matches"] = request_logs.count() == report.request_logs_rows
        checks["assessment_logs_count_matches"] = assessment_logs.count() == report.assessment_rows
        checks["quarantine_count_matches"] = quarantine.count() == report.quarantined_rows
    return checks
