"""Delta reads and writes. A table location is either a metastore name
(``catalog.schema.table``) or a filesystem path (anything containing ``/``)."""
from __future__ import annotations

import json
import os
import re
import time
from dataclasses import dataclass

from pyspark.errors import PySparkException, StreamingQueryException
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql.types import StructType

from pipelines.errors import TableError
from schemas.render import create_table_ddl
from schemas.tables import Table

__all__ = ["Commit", "TableError", "TableLocation", "last_commit", "merge_into", "read_table", "replace_where"]


@dataclass(frozen=True)
class TableLocation:
    """A metastore table name, or a path (relative local paths are made absolute)."""
    value: str

    def __post_init__(self):
        if self.is_path and "://" not in self.value and not os.path.isabs(self.value):
            object.__setattr__(self, "value", os.path.abspath(self.value))

    @property
    def is_path(self) -> bool:
        return "/" in self.value

    @property
    def sql(self) -> str:
        """How SQL names the table: ``delta.`path``` or the metastore name."""
        return f"delta.`{self.value}`" if self.is_path else self.value

    def __str__(self) -> str:
        return self.value


try:  # classic Spark raises some JVM errors (a damaged file) as Py4JJavaError; Connect has no py4j
    from py4j.protocol import Py4JJavaError
    SPARK_ERRORS: tuple[type[Exception], ...] = (PySparkException, Py4JJavaError)
except ImportError:  # pragma: no cover - a Connect-only client
    SPARK_ERRORS = (PySparkException,)

#: Error conditions that mean "no Delta table there" (path or name).
_NOT_FOUND = ("DELTA_TABLE_NOT_FOUND", "DELTA_MISSING_DELTA_TABLE", "PATH_NOT_FOUND", "TABLE_OR_VIEW_NOT_FOUND")


def _condition(exc: Exception) -> str:
    getter = getattr(exc, "getCondition", None)
    return (getter() if callable(getter) else None) or ""


def _load(spark: SparkSession, location: TableLocation) -> DataFrame:
    return spark.read.format("delta").load(location.value) if location.is_path else spark.read.table(location.value)


def _unreadable(location: TableLocation, exc: Exception) -> TableError:
    text = str(exc).strip()
    first_line = text.splitlines()[0] if text else type(exc).__name__
    return TableError(
        f"cannot read the Delta table {location}: {first_line}. Check read permissions and that its "
        "_delta_log is intact (DESCRIBE HISTORY); nothing was written."
    )


def table_schema(spark: SparkSession, location: TableLocation) -> StructType | None:
    """The table's schema, or None when there is no table there (one look at its log)."""
    try:
        return _load(spark, location).schema
    except SPARK_ERRORS as exc:
        if _condition(exc) in _NOT_FOUND:
            return None
        raise _unreadable(location, exc) from exc


def table_exists(spark: SparkSession, location: TableLocation) -> bool:
    return table_schema(spark, location) is not None


def _holds_other_files(spark: SparkSession, location: TableLocation) -> bool:
    """True when a path that is not a Delta table already holds files (Parquet files, another
    tool's directory): writing a Delta table there would mix the two. Spark lists the path, so
    this works on any storage and over Spark Connect."""
    try:
        listing = spark.read.format("binaryFile").option("recursiveFileLookup", "true").load(location.value)
        return bool(listing.select("path").limit(1).collect())
    except SPARK_ERRORS as exc:
        if _condition(exc) in _NOT_FOUND:
            return False
        raise


def _format(spark: SparkSession, location: TableLocation) -> str | None:
    try:
        return spark.sql(f"DESCRIBE DETAIL {location.sql}").first()["format"]
    except SPARK_ERRORS:
        return None


def _refuse_if_not_delta(spark: SparkSession, location: TableLocation, exists: bool) -> None:
    """Refuse a path with no Delta table that holds other files, or a named table that exists
    in another format."""
    if location.is_path and not exists and _holds_other_files(spark, location):
        raise TableError(
            f"{location} exists but is not a Delta table; the job writes only Delta tables. "
            "Point the config at an empty or new location, or convert it (CONVERT TO DELTA); nothing was written."
        )
    if not location.is_path and exists and _format(spark, location) != "delta":
        raise TableError(
            f"table {location} exists but is not a Delta table; point the config at a new table name "
            "or convert it (CONVERT TO DELTA); nothing was written."
        )


def read_table(spark: SparkSession, location: TableLocation) -> DataFrame:
    try:
        table = _load(spark, location)
        table.schema  # analysed now: a missing or unreadable table fails here, not mid-run
        return table
    except SPARK_ERRORS as exc:
        if _condition(exc) in _NOT_FOUND:
            raise TableError(
                f"no Delta table at {location}: check the table name or path in the config "
                "(tables.payload) or --payload-table."
            ) from None
        raise _unreadable(location, exc) from exc


def read_source(spark: SparkSession, location: TableLocation) -> DataFrame:
    """:func:`read_table` for the payload, whose log is read in full up front: a damaged or
    unreadable table fails here, with its name, before anything is written."""
    payload = read_table(spark, location)
    try:
        spark.sql(f"DESCRIBE DETAIL {location.sql}").collect()
    except SPARK_ERRORS as exc:
        raise _unreadable(location, exc) from exc
    return payload


def read_snapshot(spark: SparkSession, location: TableLocation) -> tuple[DataFrame, int]:
    """The payload table at its current version, and that version. A Delta DataFrame otherwise
    reads the latest version again in every job, so a run's passes over a table still being
    written could each see other rows; pinned, they all read the same ones."""
    read_source(spark, location)
    try:
        version = last_commit(spark, location).version
        return spark.sql(f"SELECT * FROM {location.sql} VERSION AS OF {version}"), version
    except SPARK_ERRORS as exc:
        raise _unreadable(location, exc) from exc


def _comparable(schema: StructType) -> list[tuple[str, str]]:
    return [(field.name, field.dataType.simpleString()) for field in schema.fields]


def _schema_difference(expected: StructType, actual: StructType) -> str:
    want, have = dict(_comparable(expected)), dict(_comparable(actual))
    parts = []
    if missing := [name for name in want if name not in have]:
        parts.append("missing columns " + ", ".join(missing))
    if extra := [name for name in have if name not in want]:
        parts.append("unexpected columns " + ", ".join(extra))
    if changed := [f"{name} is {have[name]}, expected {want[name]}" for name in want if name in have and have[name] != want[name]]:
        parts.append("; ".join(changed))
    return "; ".join(parts) or "the columns are in another order"


def check_table(spark: SparkSession, location: TableLocation, schema: StructType) -> bool:
    """Refuse (TableError) a location holding something other than a Delta table, or a table
    whose columns differ from ``schema``. Returns whether the table exists."""
    actual = table_schema(spark, location)
    _refuse_if_not_delta(spark, location, exists=actual is not None)
    if actual is None:
        return False
    if _comparable(actual) != _comparable(schema):
        raise TableError(
            f"table {location} does not have the declared schema ({_schema_difference(schema, actual)}); "
            "it was probably created by another version of inference-logs or by hand. Point the config "
            "at a new location and backfill it, or migrate the table to the schema in the README; "
            "nothing was written."
        )
    return True


def create_table(spark: SparkSession, location: TableLocation, schema: StructType,
                 partition_by: str | None = None, cluster_by: str | None = None) -> None:
    """``CREATE TABLE IF NOT EXISTS`` with the declared schema: two runs creating it at once
    both succeed, and both return only once the table can be read. The loser of that race may
    fail, or return at once while the winner's first commit is still being written."""
    statement = create_table_ddl(location.sql, schema, partition_by, cluster_by).rstrip(";")
    for attempt in range(5):
        try:
            spark.sql(statement)
        except SPARK_ERRORS:  # lost a creation race: the winner's table is fine once committed
            if attempt == 4:
                raise
        if table_exists(spark, location):
            return
        time.sleep(1)
    raise TableError(f"created the Delta table {location}, but it still cannot be read after 5 attempts; "
                     "check that its _delta_log is intact (DESCRIBE HISTORY)")


def ensure_table(spark: SparkSession, location: TableLocation, schema: StructType,
                 partition_by: str | None = None, cluster_by: str | None = None) -> None:
    """Create the table with the declared schema when missing (see :func:`check_table`)."""
    if not check_table(spark, location, schema):
        create_table(spark, location, schema, partition_by, cluster_by)


def _save(writer, location: TableLocation) -> None:
    if location.is_path:
        writer.save(location.value)
    else:
        writer.saveAsTable(location.value)


def _tagged(writer, tag: str | None):
    """The writer with ``tag`` as its commit's ``userMetadata`` (how :func:`tagged_commit` finds it)."""
    return writer if tag is None else writer.option("userMetadata", tag)


def replace_where(df: DataFrame, location: TableLocation, predicate: str | None, tag: str | None = None) -> None:
    """Atomically replace the rows matching ``predicate`` (all rows when None) with ``df``. All
    rows are replaced by the predicate ``true``, not a plain overwrite, which would drop the
    table's clustering. ``tag``: the commit's ``userMetadata``."""
    writer = df.write.format("delta").mode("overwrite").option("replaceWhere", predicate or "true")
    _save(_tagged(writer, tag), location)


def append(df: DataFrame, location: TableLocation, tag: str | None = None) -> None:
    """Append ``df`` (an append of no rows makes no commit). ``tag``: the commit's ``userMetadata``."""
    _save(_tagged(df.write.format("delta").mode("append"), tag), location)


def write_table(df: DataFrame, location: TableLocation, mode: str = "overwrite") -> None:
    """Plain write (used for sample data): create or replace the table with ``df``."""
    _save(df.write.format("delta").mode(mode).option("overwriteSchema", "true"), location)


@dataclass(frozen=True)
class Commit:
    """One Delta commit and its operation metrics."""
    version: int
    operation: str
    metrics: dict[str, str]

    def metric(self, name: str) -> int:
        return int(self.metrics.get(name) or 0)

    @property
    def rows_written(self) -> int:
        """Rows this commit wrote: inserted plus updated by a MERGE; written by a WRITE, less the
        rows it only copied out of rewritten files."""
        if self.operation == "MERGE":
            return self.metric("numTargetRowsInserted") + self.metric("numTargetRowsUpdated")
        return self.metric("numOutputRows") - self.metric("numCopiedRows")


def _commit(row) -> Commit:
    return Commit(int(row["version"]), row["operation"], dict(row["operationMetrics"] or {}))


def last_commit(spark: SparkSession, location: TableLocation) -> Commit:
    """The table's latest commit (one look at its log)."""
    return _commit(spark.sql(f"DESCRIBE HISTORY {location.sql} LIMIT 1").first())


#: How far back :func:`tagged_commit` looks when the latest commit is not the write's.
TAGGED_COMMIT_LOOK_BACK = 20


def tagged_commit(spark: SparkSession, location: TableLocation, tag: str) -> Commit | None:
    """The commit whose ``userMetadata`` is ``tag``, looked up right after the write; None when
    the last :data:`TAGGED_COMMIT_LOOK_BACK` commits hold none (the write made no commit: it
    had no rows and replaced none). One look at the latest commit; further back only when it is
    another writer's (a compaction right after the write, say)."""
    for limit in (1, TAGGED_COMMIT_LOOK_BACK):
        rows = spark.sql(f"DESCRIBE HISTORY {location.sql} LIMIT {limit}").select(
            "version", "operation", "operationMetrics", "userMetadata").collect()
        found = [row for row in rows if row["userMetadata"] == tag]
        if found:
            return _commit(found[0])
    return None


#: ``t.`` in a merge condition: a reference to the target table (not inside a longer name).
_TARGET_ALIAS = re.compile(r"(?<![\w.`])t\.")


def merge_into(df: DataFrame, location: TableLocation, on: str, update_when: str | None = None,
               insert: bool = True) -> None:
    """Merge ``df`` (alias ``s``) into the table (alias ``t`` in the conditions): rows matching
    ``on`` are replaced where ``update_when`` holds (never when None; ``"true"``: always), the
    others inserted (unless ``insert`` is false). Through ``DataFrame.mergeInto``, so that it
    runs on classic Spark and Spark Connect alike and the counts observed on ``df`` reach the
    caller on both."""
    def target(condition: str):
        return F.expr(_TARGET_ALIAS.sub(lambda _: location.sql + ".", condition))

    merge = df.alias("s").mergeInto(location.sql, target(on))
    if update_when is not None:
        merge = merge.whenMatched(target(update_when)).updateAll()
    if insert:
        merge = merge.whenNotMatched().insertAll()
    merge.merge()


def table_version(spark: SparkSession, location: TableLocation) -> int:
    return last_commit(spark, location).version


def table_id(spark: SparkSession, location: TableLocation) -> str:
    """The table's Delta id (a new one when the table is dropped and created again)."""
    return spark.sql(f"DESCRIBE DETAIL {location.sql}").select("id").first()["id"]


def run_available_now(stream: DataFrame, checkpoint: str, process_batch, query_name: str,
                     on_progress=None, poll_seconds: float = 5.0) -> list[dict]:
    """Process everything the stream has not yet seen, in micro-batches, then stop.

    ``process_batch(batch_df, batch_id)`` must be idempotent: a batch interrupted before its
    checkpoint commit is processed again by the next run. On Spark Connect it runs in a Python
    process on the server, so it must report through tables, not through the caller's objects.
    ``on_progress(progress)`` is called here, in the caller, for each batch as it completes.
    Returns the query's progress reports.
    """
    query = (
        stream.writeStream.queryName(query_name)
        .foreachBatch(process_batch)
        .option("checkpointLocation", checkpoint)
        .trigger(availableNow=True)
        .start()
    )
    reported: set[int] = set()

    def report_new() -> list[dict]:
        progress = [p if isinstance(p, dict) else json.loads(p.json) for p in query.recentProgress]
        for entry in progress:
            if on_progress is not None and entry.get("batchId") not in reported and batch_input_rows(entry):
                reported.add(entry.get("batchId"))
                on_progress(entry)
        return progress

    try:
        while not query.awaitTermination(poll_seconds):
            report_new()
    except StreamingQueryException as exc:
        if "DIFFERENT_DELTA_TABLE_READ_BY_STREAMING_SOURCE" in str(exc):
            raise TableError(
                f"the checkpoint {checkpoint} belongs to another payload table (or the payload table was "
                "dropped and re-created). Give each payload table its own state.checkpoint (--checkpoint); "
                "to start this table over, see 'Resetting the checkpoint' in the README. Nothing was written."
            ) from None
        raise
    return report_new()


def batch_input_rows(progress: dict) -> int:
    """Rows a micro-batch read (Spark Connect's progress has them per source only)."""
    if progress.get("numInputRows") is not None:
        return int(progress["numInputRows"])
    return sum(int(source.get("numInputRows") or 0) for source in progress.get("sources") or [])


def source_versions(progress: list[dict]) -> str:
    """The payload table versions a stream read, from its progress reports."""
    def version(offset) -> str:
        if isinstance(offset, str):
            offset = json.loads(offset)
        return str(offset.get("reservoirVersion")) if isinstance(offset, dict) else "start"

    spans = [(p["sources"][0].get("startOffset"), p["sources"][0].get("endOffset"))
             for p in progress if p.get("sources") and batch_input_rows(p)]
    if not spans:
        return "no new data"
    return f"versions {version(spans[0][0])} to {version(spans[-1][1])}"


def stream_table(spark: SparkSession, location: TableLocation, max_files_per_batch: int | None = None) -> DataFrame:
    """The table as a streaming source of appended rows (updates and deletes are skipped, as
    the vendor's derived tables never reflected them either)."""
    read_source(spark, location)
    reader = spark.readStream.format("delta").option("skipChangeCommits", "true")
    if max_files_per_batch:
        reader = reader.option("maxFilesPerTrigger", max_files_per_batch)
    return reader.load(location.value) if location.is_path else reader.table(location.value)


def discard(df: DataFrame) -> None:
    """Run ``df`` to the end and keep nothing (Spark's ``noop`` sink): for a dry run."""
    df.write.format("noop").mode("overwrite").save()


def create_declared(spark: SparkSession, location: TableLocation, table: Table) -> None:
    """:func:`create_table` for a table declared in :mod:`schemas.tables`, with its layout."""
    create_table(spark, location, table.schema, table.partition_by, table.cluster_by)


def ensure_declared(spark: SparkSession, location: TableLocation, table: Table) -> None:
    """:func:`ensure_table` for a table declared in :mod:`schemas.tables`."""
    if not check_table(spark, location, table.schema):
        create_declared(spark, location, table)
