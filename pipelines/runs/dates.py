"""Ranges of payload dates: what a backfill reads and replaces."""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from pyspark.sql import DataFrame

from pipelines.errors import ConfigError
from pipelines.transforms.normalize import date_range_filter


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
