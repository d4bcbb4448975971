"""Counts that prove a run lost nothing, taken while the data flows.

Each output pass carries observations (``DataFrame.observe``): the request-logs pass counts
every payload row it read (by status and date) and its request-logs rows (by shape and trace
format), the quarantine pass its quarantined rows by reason, the assessment-logs pass its
feedback rows and assessments; each pass counts the rows it read and what it derived. Each
write's Delta commit gives its own count of rows written. A run is balanced when every payload
row read is accounted for exactly once:

    rows_read = request_logs rows + feedback rows (-> assessment logs) + quarantined rows
                + duplicates collapsed

and its checks pass when every pass and every commit agrees on the same numbers. Nothing is
read back for this; ``inference-logs verify`` does the full re-read when wanted.
"""
from __future__ import annotations

import datetime as dt
import sys
from collections import Counter
from dataclasses import asdict, dataclass, field, fields

from pyspark.sql import Column, DataFrame, Observation
from pyspark.sql import functions as F

from pipelines.rules.classify import ASSESSMENT_LOGS, QUARANTINE, REQUEST_LOGS
from pipelines.transforms.columns import built_once
from pipelines.transforms.duplicates import COLLAPSED
from schemas.reasons import QUARANTINE_REASONS
from schemas.shapes import ALL_REQUEST_SHAPES, ALL_RESPONSE_SHAPES, STATUS_CLASSES, TRACE_FORMATS, UNRECOGNIZED


COUNTERS = ("rows_read", "duplicates_collapsed", "request_logs_rows", "feedback_rows", "assessment_rows",
            "quarantined_rows")
TALLIES = ("quarantine_reasons", "status_codes", "request_shapes", "response_shapes", "trace_formats",
           "missing_request_text", "missing_answer_text", "rows_written")


def progress_line(line: str) -> None:
    """Print a run's progress line to stderr: stdout holds the report alone (``--json``)."""
    print(line, file=sys.stderr, flush=True)


@dataclass
class RunReport:
    rows_read: int = 0
    duplicates_collapsed: int = 0
    request_logs_rows: int = 0
    feedback_rows: int = 0
    assessment_rows: int = 0
    quarantined_rows: int = 0
    quarantine_reasons: dict[str, int] = field(default_factory=dict)
    #: Payload rows per status class (2xx, 4xx, ...; 'none' when the row has no status).
    status_codes: dict[str, int] = field(default_factory=dict)
    request_shapes: dict[str, int] = field(default_factory=dict)
    response_shapes: dict[str, int] = field(default_factory=dict)
    trace_formats: dict[str, int] = field(default_factory=dict)
    missing_request_text: dict[str, int] = field(default_factory=dict)
    missing_answer_text: dict[str, int] = field(default_factory=dict)
    #: Rows each output's Delta commit says it wrote (inserted or updated by a merge).
    rows_written: dict[str, int] = field(default_factory=dict)
    checks: dict[str, bool] = field(default_factory=dict)
    #: The payload dates of the rows read (null dates left out): the partitions a merge touches.
    dates: list[dt.date] = field(default_factory=list)
    run_id: str | None = None

    def add(self, other: "RunReport") -> None:
        """Accumulate another batch's report into this one."""
        for name in COUNTERS:
            setattr(self, name, getattr(self, name) + getattr(other, name))
        for name in TALLIES:
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

    @classmethod
    def from_dict(cls, data: dict) -> "RunReport":
        """The report :meth:`as_dict` gave (derived keys are recomputed, not read)."""
        names = {f.name for f in fields(cls)}
        report = cls(**{key: value for key, value in data.items() if key in names and key != "dates"})
        report.dates = [dt.date.fromisoformat(day) for day in data.get("dates") or []]
        return report


# --- observations ------------------------------------------------------------------------------


def _count_where(condition: Column, weight: Column | None = None) -> Column:
    return F.coalesce(F.sum(F.when(condition, F.lit(1) if weight is None else weight).otherwise(0)), F.lit(0)).cast("bigint")


def _status_class(status: Column) -> Column:
    return (
        F.when(status.isNull(), F.lit("none"))
        .when(status.between(100, 599), F.concat((status / 100).cast("int").cast("string"), F.lit("xx")))
        .otherwise(F.lit("other"))
    )


def _tally(prefix: str, value: Column, names, weight: Column | None = None) -> list[Column]:
    return [_count_where(value == name, weight).alias(f"{prefix}:{name}") for name in names]


def _rows_read_metrics() -> list[Column]:
    """Payload rows read and collapsed, over rows that each stand for 1 + duplicates_collapsed."""
    return [F.coalesce(F.sum(F.lit(1) + F.col(COLLAPSED)), F.lit(0)).cast("bigint").alias("rows_read"),
            F.coalesce(F.sum(COLLAPSED), F.lit(0)).cast("bigint").alias("duplicates_collapsed")]


@built_once
def read_metrics() -> list[Column]:
    """The request-logs pass's counts over every distinct payload row it classified: rows read,
    collapsed, request logs, per status class and date."""
    payload_rows = F.lit(1) + F.col(COLLAPSED)
    return [
        *_rows_read_metrics(),
        _count_where(F.col("destination") == REQUEST_LOGS).alias("request_logs_rows"),
        *_tally("status_codes", _status_class(F.col("status_code")), STATUS_CLASSES, payload_rows),
        F.sort_array(F.collect_set("date")).alias("dates"),
    ]


@built_once
def quarantine_metrics() -> list[Column]:
    """The quarantine pass's counts over every distinct payload row it classified."""
    return [*_rows_read_metrics(),
            _count_where(F.col("destination") == QUARANTINE).alias("quarantined_rows"),
            *_tally("quarantine_reasons", F.col("reason"), QUARANTINE_REASONS),
            # a reason the catalogue lacks would drop out of the tallies: counted, it fails the run's checks
            _count_where(F.col("reason").isNotNull() & ~F.col("reason").isin(*QUARANTINE_REASONS))
            .alias("undeclared_reasons")]


@built_once
def rows_read_metrics() -> list[Column]:
    return _rows_read_metrics()


@built_once
def feedback_metrics() -> list[Column]:
    """The assessment-logs pass's counts over the rows it classified (those that may hold
    feedback): feedback rows and their assessments."""
    feedback = F.col("destination") == ASSESSMENT_LOGS
    return [_count_where(feedback).alias("feedback_rows"),
            _count_where(feedback, F.col("assessment_count")).alias("assessment_rows")]


@built_once
def request_log_metrics() -> list[Column]:
    """Counts over the request-logs rows, by shape and trace format."""
    trace = F.coalesce(F.col("schema_version"), F.lit(UNRECOGNIZED))
    trace = F.when(trace.isin(*TRACE_FORMATS), trace).otherwise(F.lit(UNRECOGNIZED))
    return [
        F.count(F.lit(1)).alias("derived"),
        *_tally("request_shapes", F.col("request_shape"), ALL_REQUEST_SHAPES),
        *_tally("response_shapes", F.col("response_shape"), ALL_RESPONSE_SHAPES),
        *_tally("trace_formats", trace, (*TRACE_FORMATS, UNRECOGNIZED)),
        *_tally("missing_request_text", F.when(F.col("request").isNull(), F.col("request_shape")), ALL_REQUEST_SHAPES),
        *_tally("missing_answer_text", F.when(F.col("response").isNull(), F.col("response_shape")),
                ALL_RESPONSE_SHAPES),
        _count_where(~F.col("request_shape").isin(*ALL_REQUEST_SHAPES)
                     | ~F.col("response_shape").isin(*ALL_RESPONSE_SHAPES)).alias("undeclared_shapes"),
    ]


@built_once
def output_metrics() -> list[Column]:
    return [F.count(F.lit(1)).alias("derived")]


def observed(df: DataFrame, name: str, metrics: list[Column]) -> tuple[DataFrame, Observation]:
    observation = Observation(name)
    return df.observe(observation, *metrics), observation


def apply_counts(report: RunReport, metrics: dict) -> None:
    """Fill ``report``'s counters and tallies from an observation's values (those it has)."""
    for name in COUNTERS:
        if name in metrics:
            setattr(report, name, int(metrics.get(name) or 0))
    for tally in ("quarantine_reasons", "status_codes"):
        if any(key.startswith(tally + ":") for key in metrics):
            setattr(report, tally, _tally_values(metrics, tally))
    if "dates" in metrics:
        report.dates = list(metrics.get("dates") or [])


def apply_request_logs(report: RunReport, metrics: dict) -> None:
    for tally in ("request_shapes", "response_shapes", "trace_formats", "missing_request_text", "missing_answer_text"):
        setattr(report, tally, _tally_values(metrics, tally))


def _tally_values(metrics: dict, prefix: str) -> dict[str, int]:
    start = prefix + ":"
    return {key[len(start):]: int(value) for key, value in sorted(metrics.items())
            if key.startswith(start) and value}
