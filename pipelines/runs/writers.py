"""How a run writes the derived tables: each :class:`Writer` says how (replace a range, merge a
batch exactly once, or discard for a dry run) and returns the rows its Delta commit wrote."""
from __future__ import annotations

import datetime as dt
import uuid
from typing import Callable, NamedTuple, Optional

from pyspark.sql import Column, DataFrame, Observation, SparkSession
from pyspark.sql import functions as F

from pipelines.io import delta_tables
from pipelines.io.delta_tables import TableLocation
from pipelines.runs.outputs import Output, OutputTables, Replacement


#: Called with a table name after each write; lets tests interrupt a run between writes.
AfterWrite = Optional[Callable[[str], None]]
#: A pass's rows derived again, without its counts, for the payload rows a predicate selects
#: (a writer that must write a few of them twice reads only those).
RowsWhere = Callable[[Column], DataFrame]
#: Up to this many stored rows that a merged batch replaces are read again by their key; more
#: are found by a join instead.
MAX_LISTED_REPLACEMENTS = 10_000


class Writer:
    """How a run writes each output. ``write`` returns the rows the commit wrote, or None when
    nothing is written (a dry run). ``rows_where``: the same rows derived again for some payload
    rows (:data:`RowsWhere`); without it, a writer that needs some rows twice filters ``rows``."""

    def write(self, output: Output, rows: DataFrame, rows_where: RowsWhere | None = None) -> int | None:
        raise NotImplementedError

    def checks(self, derived: dict[str, int], written: dict[str, int]) -> dict[str, bool]:
        """Each output's commit against the rows its pass derived."""
        return {}


class Discard(Writer):
    """Derive and count, write nothing (``check``)."""

    def write(self, output: Output, rows: DataFrame, rows_where: RowsWhere | None = None) -> int | None:
        delta_tables.discard(rows)
        return None


def committed(spark: SparkSession, location: TableLocation, write: Callable[[str], None],
              wrote_rows: Callable[[], int] | None = None) -> delta_tables.Commit | None:
    """Run ``write(tag)``, which gives its commit ``tag`` as ``userMetadata``, and return the
    commit it made (None when it made none). One look at the table's log, after the write: the
    tag tells this write's commit from any other writer's. ``wrote_rows``: the rows the write
    was given, counted while it ran; an append of none makes no commit, so none is looked up."""
    tag = f"inference-logs {uuid.uuid4()}"
    write(tag)
    if wrote_rows is not None and not wrote_rows():
        return None
    return delta_tables.tagged_commit(spark, location, tag)


def merged(spark: SparkSession, location: TableLocation, merge: Callable[[], None]) -> delta_tables.Commit | None:
    """Run ``merge`` and return the commit it made (None when it made none: a MERGE with nothing
    to change). A MERGE takes no ``userMetadata`` of its own, so its commit is told by the
    table's version before and after (the run lease keeps the other runs out meanwhile)."""
    before = delta_tables.last_commit(spark, location).version
    merge()
    commit = delta_tables.last_commit(spark, location)
    return commit if commit.version != before else None


class ReplaceRange(Writer):
    """Replace each table's rows of a date range (all rows when the range is the whole table)."""

    def __init__(self, spark: SparkSession, tables: OutputTables, predicates: dict[str, str | None]):
        self.spark, self.tables, self.predicates = spark, tables, predicates

    def write(self, output: Output, rows: DataFrame, rows_where: RowsWhere | None = None) -> int:
        location = self.tables[output.name]
        commit = committed(self.spark, location,
                           lambda tag: delta_tables.replace_where(rows, location, self.predicates[output.name], tag))
        return commit.rows_written if commit is not None else 0

    def checks(self, derived: dict[str, int], written: dict[str, int]) -> dict[str, bool]:
        """Each table's range now holds exactly the rows its pass derived."""
        return {f"{name}_commit_wrote_every_row": written[name] == derived[name] for name in derived}


class Append(NamedTuple):
    """One table's append of a merged batch, in rows."""
    offered: int  # the batch's rows for the table
    new: int      # of those, the rows whose identity it did not hold yet
    written: int  # what the append's commit wrote


class ExactlyOnceMerge(Writer):
    """Merge a batch of the given payload dates in idempotently: merging it twice leaves the
    tables as once. Each table gets the batch's rows whose identity (:attr:`Output.identity`) it
    does not hold yet, by one append after an anti-join with its stored rows of those dates;
    request logs also replace a stored row by a batch's row the duplicate rule prefers
    (:class:`Replacement`: a MERGE of those rows only, run only when there are some). Runs hold
    the run lease, so no other writer changes the tables between the look and the append."""

    def __init__(self, spark: SparkSession, tables: OutputTables, dates: list[dt.date]):
        self.spark, self.tables, self.dates = spark, tables, dates
        self.appends: dict[str, Append] = {}

    def _stored(self, output: Output) -> DataFrame:
        """The table's rows that the batch's dates can repeat."""
        return delta_tables.read_table(self.spark, self.tables[output.name]).where(output.stored_rows(self.dates, ""))

    def write(self, output: Output, rows: DataFrame, rows_where: RowsWhere | None = None) -> int:
        location = self.tables[output.name]
        identity = {f"_identity_{i}": F.expr(sql) for i, sql in enumerate(output.identity)}
        keys = list(identity)
        stored = self._stored(output).select(*[column.alias(key) for key, column in identity.items()])
        offered = Observation(f"{output.name}_offered")
        new = Observation(f"{output.name}_new")
        # the stored identities of a batch's dates are few next to the batch's bodies: broadcast
        fresh = (rows.withColumns(identity).observe(offered, F.count(F.lit(1)).alias("rows"))
                 .join(F.broadcast(stored), keys, "left_anti").drop(*keys).observe(new, F.count(F.lit(1)).alias("rows")))
        commit = committed(self.spark, location, lambda tag: delta_tables.append(fresh, location, tag),
                           wrote_rows=lambda: int(new.get["rows"]))
        append = Append(int(offered.get["rows"]), int(new.get["rows"]), commit.rows_written if commit is not None else 0)
        self.appends[output.name] = append
        replaced = 0
        if output.replacement is not None and append.offered > append.new:
            replaced = self._replace(output, output.replacement, rows_where or rows.where)
        return append.written + replaced

    @staticmethod
    def _same_identity(output: Output) -> list[str]:
        """SQL: a batch's row (``s.``) and a stored row (``t.``) have the same identity."""
        return [f"{stored} = {batch}" for stored, batch in zip(output.table.identity_sql("t."), output.table.identity_sql("s."))]

    def replacing_rows(self, output: Output, replacement: Replacement, batch: DataFrame) -> DataFrame:
        """The ``replacement.key`` of each of the ``batch``'s rows that replaces a stored row:
        its identity is stored, and ``replacement.when`` prefers it. Reads only the columns the
        identity and the rule name. (After the batch's append, a row it appended meets itself,
        and no row is preferred to itself.)"""
        same = " AND ".join(self._same_identity(output))
        return (batch.alias("s").join(self._stored(output).alias("t"), F.expr(same))
                .where(F.expr(replacement.when)).select(F.col(f"s.{replacement.key}").alias(replacement.key)))

    def _replace(self, output: Output, replacement: Replacement, rows_where: RowsWhere) -> int:
        """MERGE the batch's rows that replace a stored row, derived again for their keys only: a
        batch that repeats stored rows without replacing any (a range merged twice) costs one
        narrow join, not its derivation again. Returns the rows the MERGE updated."""
        location = self.tables[output.name]
        replacing = self.replacing_rows(output, replacement, rows_where(F.lit(True)))
        replacing_keys = [row[0] for row in replacing.limit(MAX_LISTED_REPLACEMENTS + 1).collect()]
        if not replacing_keys:
            return 0
        if len(replacing_keys) <= MAX_LISTED_REPLACEMENTS:
            source = rows_where(F.col(replacement.key).isin(replacing_keys))
        else:
            source = rows_where(F.lit(True)).join(replacing, replacement.key, "left_semi")
        on = " AND ".join([output.stored_rows(self.dates, "t."), *self._same_identity(output)])
        commit = merged(self.spark, location,
                        lambda: delta_tables.merge_into(source, location, on, replacement.when, insert=False))
        return commit.metric("numTargetRowsUpdated") if commit is not None else 0

    def checks(self, derived: dict[str, int], written: dict[str, int]) -> dict[str, bool]:
        """Each table was offered every derived row, and its append's commit wrote exactly the
        rows it did not hold yet."""
        return {f"{name}_append_wrote_every_new_row": self.appends[name].offered == derived[name]
                and self.appends[name].written == self.appends[name].new for name in derived}
