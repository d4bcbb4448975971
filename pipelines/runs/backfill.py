"""The backfill job: rebuild a range of payload dates (or the whole table), slice by slice.

A long range is worked through in slices of at most ``dates_per_slice`` payload dates, each
derived and written on its own (three passes, three commits), so that the work in flight is
bounded by a slice, progress is printed as slices finish, and a failed run keeps the slices it
finished. The slices are contiguous and cover the whole range, so dates without payload rows
are cleared as well, and re-running gives identical tables.
"""
from __future__ import annotations

import datetime as dt
import time
from dataclasses import dataclass

from pyspark.sql import DataFrame, SparkSession

from pipelines.config import Settings
from pipelines.errors import ConfigError
from pipelines.io import delta_tables
from pipelines.runs.dates import DateRange, dates_predicate
from pipelines.runs.job import run_job
from pipelines.runs.outputs import OutputTables
from pipelines.runs.payload_source import payload_location
from pipelines.runs.passes import derive_outputs, payload_dates
from pipelines.runs.report import RunReport, progress_line
from pipelines.runs.writers import AfterWrite, ExactlyOnceMerge, ReplaceRange
from pipelines.transforms.normalize import date_range_filter, normalize_payload, undated_filter

#: Payload dates per slice when the caller does not say.
DEFAULT_DATES_PER_SLICE = 7


@dataclass(frozen=True)
class Slice:
    """The payload dates ``first`` to ``last`` of a backfill; an open side also takes in every
    earlier (later) date of the outputs, so that a whole-table backfill clears dates the payload
    no longer holds. ``undated``: the payload rows with neither a date nor a request time."""
    first: dt.date | None = None
    last: dt.date | None = None
    open_start: bool = False
    open_end: bool = False
    undated: bool = False

    @property
    def whole_table(self) -> bool:
        return self.open_start and self.open_end

    def payload(self, payload: DataFrame) -> DataFrame:
        if self.undated:
            return payload.where(undated_filter(payload))
        if self.whole_table:
            return payload
        return payload.where(date_range_filter(payload, self.first, self.last))

    def predicate(self, column: str) -> str | None:
        """The rows of an output ``column`` (a date or a timestamp) this slice replaces."""
        if self.undated:
            return f"{column} IS NULL"
        return dates_predicate(column, None if self.open_start else self.first, None if self.open_end else self.last)

    def describe(self) -> str:
        if self.undated:
            return "rows without a date"
        if self.whole_table:
            return "all dates"
        return f"{'...' if self.open_start else self.first} to {'...' if self.open_end else self.last}"


def plan_slices(dates: DateRange, present: list[dt.date], has_undated: bool, per_slice: int) -> list[Slice]:
    """Contiguous slices of at most ``per_slice`` of the ``present`` payload dates, covering the
    range (a bounded range from its start to its end; the whole table from before its first date
    to after its last, plus the undated rows)."""
    if dates.whole_table and len(present) <= per_slice:
        return [Slice(open_start=True, open_end=True)]  # one slice: the whole table, undated rows too
    chunks = [present[i:i + per_slice] for i in range(0, len(present), per_slice)] or [[]]
    slices = []
    for index, chunk in enumerate(chunks):
        is_first, is_last = index == 0, index == len(chunks) - 1
        first = dates.start if is_first and not dates.whole_table else chunk[0]
        if not is_last:
            last = chunks[index + 1][0] - dt.timedelta(days=1)  # up to the next slice: no gaps
        else:
            last = chunk[-1] if dates.whole_table else dates.end
        slices.append(Slice(first, last, open_start=dates.whole_table and is_first,
                            open_end=dates.whole_table and is_last))
    if dates.whole_table and has_undated:
        slices.append(Slice(undated=True))
    return slices


def _print_progress(index: int, total: int, piece: Slice, report: RunReport, done_rows: int, started: float,
                    slice_seconds: float) -> None:
    elapsed = time.perf_counter() - started
    rate = report.rows_read / slice_seconds if slice_seconds > 0 else 0.0
    progress_line(f"  slice {index}/{total} ({piece.describe()}): {report.rows_read} payload rows in {slice_seconds:.0f} s "
                  f"({rate:.0f} rows/s); {done_rows} rows in {elapsed:.0f} s so far")


def _payload_range(spark: SparkSession, settings: Settings, dates: DateRange):
    """The payload table at its current version (every slice reads that one), its rows of the
    range and the payload dates they hold (one narrow look)."""
    source = payload_location(spark, settings)
    snapshot, version = delta_tables.read_snapshot(spark, source)
    payload = dates.of(snapshot)
    found = [row[0] for row in normalize_payload(payload).select("date").distinct().collect()]
    return f"{source} version {version}", payload, found


def _backfill(spark: SparkSession, settings: Settings, outputs: OutputTables, dates: DateRange,
              merge: bool, after_write: AfterWrite, dates_per_slice: int, prepared) -> tuple[RunReport, str]:
    source, payload, found = prepared
    present = sorted(day for day in found if day is not None)
    slices = plan_slices(dates, present, None in found, dates_per_slice)
    total, started = RunReport(), time.perf_counter()
    for index, piece in enumerate(slices, start=1):
        slice_started = time.perf_counter()
        normalized = normalize_payload(piece.payload(payload))
        if merge:
            writer = ExactlyOnceMerge(spark, outputs, payload_dates(normalized))
        else:
            writer = ReplaceRange(spark, outputs, {o.name: piece.predicate(o.range_column) for o in outputs.outputs})
        report = derive_outputs(normalized, writer, after_write, with_details=outputs.with_details)
        total.add(report)
        if not report.balanced:
            total.checks[f"slice_{index}_balanced"] = False
        if len(slices) > 1:
            _print_progress(index, len(slices), piece, report, total.rows_read, started,
                            time.perf_counter() - slice_started)
    sliced = f" in {len(slices)} slices" if len(slices) > 1 else ""
    return total, f"{source}: {dates.describe()}{sliced}" + (" (merged)" if merge else "")


def run_backfill(spark: SparkSession, settings: Settings, dates: DateRange, merge: bool = False,
                 after_write: AfterWrite = None, dates_per_slice: int = DEFAULT_DATES_PER_SLICE) -> RunReport:
    """Rebuild the three tables for a range of payload dates (or entirely): each slice's dates
    are replaced atomically, so a re-run gives identical tables.

    With ``merge``, the range is merged in as the hourly job does (keeping rows the range's
    payload does not hold): for outputs fed by several payload tables.
    """
    if dates_per_slice < 1:
        raise ConfigError(f"--dates-per-slice must be at least 1, not {dates_per_slice}")
    return run_job("backfill", spark, settings,
                   lambda outputs, _run_id, prepared: _backfill(spark, settings, outputs, dates, merge, after_write,
                                                                dates_per_slice, prepared),
                   prepare=lambda: _payload_range(spark, settings, dates))
