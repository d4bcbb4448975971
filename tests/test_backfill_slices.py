"""How a backfill's range is cut into slices: contiguous, covering the range, at most N dates each."""
import datetime as dt

import pytest

from pipelines.errors import ConfigError
from pipelines.runs.backfill import Slice, plan_slices, run_backfill
from pipelines.runs.dates import DateRange


def day(n: int) -> dt.date:
    return dt.date(2025, 12, n)


def described(slices):
    return [(s.describe(), s.predicate("date")) for s in slices]


def test_a_whole_table_of_few_dates_is_one_slice_with_its_undated_rows():
    assert plan_slices(DateRange(), [day(1), day(2)], True, 7) == [Slice(open_start=True, open_end=True)]
    assert described(plan_slices(DateRange(), [], True, 1)) == [("all dates", None)]


def test_a_whole_table_is_cut_with_open_ends_and_ends_with_the_undated_rows():
    assert described(plan_slices(DateRange(), [day(1), day(2), day(5)], True, 2)) == [
        ("... to 2025-12-04", "date < '2025-12-05'"),          # clears whatever lies before, too
        ("2025-12-05 to ...", "date >= '2025-12-05'"),          # and whatever lies after
        ("rows without a date", "date IS NULL"),
    ]
    assert [s.undated for s in plan_slices(DateRange(), [day(1), day(2), day(5)], False, 2)] == [False, False]


def test_a_bounded_range_is_covered_from_its_start_to_its_end_without_gaps():
    assert described(plan_slices(DateRange(day(1), day(10)), [day(2), day(3), day(5)], False, 1)) == [
        ("2025-12-01 to 2025-12-02", "date >= '2025-12-01' AND date < '2025-12-03'"),
        ("2025-12-03 to 2025-12-04", "date >= '2025-12-03' AND date < '2025-12-05'"),
        ("2025-12-05 to 2025-12-10", "date >= '2025-12-05' AND date < '2025-12-11'"),
    ]
    # a range without payload rows is still one slice, which clears it
    assert described(plan_slices(DateRange(day(1), day(10)), [], False, 3)) == [
        ("2025-12-01 to 2025-12-10", "date >= '2025-12-01' AND date < '2025-12-11'")]


def test_a_slice_size_below_one_is_refused():
    with pytest.raises(ConfigError, match="at least 1"):
        run_backfill(None, None, DateRange(), dates_per_slice=0)
