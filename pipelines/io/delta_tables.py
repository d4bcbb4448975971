"""Delta reads and writes. A table location is either a metastore name
(``catalog.schema.table``) or a filesystem path (anything containing ``/``)."""
from __future__ import annotations

import json
import os
import uuid
from dataclasses import dataclass

from delta.tables import DeltaTable
from py4j.protocol import Py4JError
from pyspark.errors import PySparkException, StreamingQueryException
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql.types import StructType

from pipelines.errors import TableError

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


def table_exists(spark: SparkSession, location: TableLocation) -> bool:
    if location.is_path:
        return DeltaTable.isDeltaTable(spark, location.value)
    return spark.catalog.tableExists(location.value)


def _holds_other_files(spark: SparkSession, location: TableLocation) -> bool:
    """True when a path that is not a Delta table already holds something (Parquet files, a
    directory of another tool): writing a Delta table there would mix the two."""
    path = location.value
    if "://" not in path or path.startswith("file:"):
        local = path[len("file:"):] if path.startswith("file:") else path
        return os.path.isdir(local) and bool(os.listdir(local)) or os.path.isfile(local)
    try:  # remote storage: ask Hadoop's file system (not available over Spark Connect)
        hadoop_path = spark._jvm.org.apache.hadoop.fs.Path(path)
        return hadoop_path.getFileSystem(spark._jsc.hadoopConfiguration()).exists(hadoop_path)
    except Exception:  # noqa: BLE001 - the check is a courtesy; Delta refuses such paths too
        return False


def _refuse_if_not_delta(spark: SparkSession, location: TableLocation) -> None:
    if location.is_path:
        if _holds_other_files(spark, location):
            raise TableError(
                f"{location} exists but is not a Delta table; the job writes only Delta tables. "
                "Point the config at an empty or new location, or convert it (CONVERT TO DELTA); nothing was written."
            )
        return
    if spark.catalog.tableExists(location.value):
        try:
            DeltaTable.forName(spark, location.value)
        except Exception as exc:  # noqa: BLE001 - Delta raises AnalysisException subclasses
            raise TableError(
                f"table {location} exists but is not a Delta table; point the config at a new table name "
                "or convert it (CONVERT TO DELTA); nothing was written."
            ) from exc


def _unreadable(location: TableLocation, exc: Exception) -> TableError:
    text = str(exc).strip()
    first_line = text.splitlines()[0] if text else type(exc).__name__
    return TableError(
        f"cannot read the Delta table {location}: {first_line}. Check read permissions and that its "
        "_delta_log is intact (DESCRIBE HISTORY); nothing was written."
    )


def read_table(spark: SparkSession, location: TableLocation) -> DataFrame:
    if not table_exists(spark, location):
        raise TableError(
            f"no Delta table at {location}: check the table name or path in the config "
            "(tables.payload) or --payload-table."
        )
    try:
        return spark.read.format("delta").load(location.value) if location.is_path else spark.read.table(location.value)
    except (PySparkException, Py4JError) as exc:
        raise _unreadable(location, exc) from exc


def read_source(spark: SparkSession, location: TableLocation) -> DataFrame:
    """:func:`read_table` for the payload, whose log is read in full up front (Delta caches the
    snapshot): a damaged or unreadable table fails here, with its name, before anything is written."""
    payload = read_table(spark, location)
    try:
        delta_table(spark, location).detail().collect()
    except (PySparkException, Py4JError) as exc:
        raise _unreadable(location, exc) from exc
    return payload


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
    exists = table_exists(spark, location)
    if not (location.is_path and exists):  # a path that isDeltaTable is Delta already
        _refuse_if_not_delta(spark, location)
    if exists:
        actual = read_table(spark, location).schema
        if _comparable(actual) != _comparable(schema):
            raise TableError(
                f"table {location} does not have the declared schema ({_schema_difference(schema, actual)}); "
                "it was probably created by another version of inference-logs or by hand. Point the config "
                "at a new location and backfill it, or migrate the table to the schema in the README; "
                "nothing was written."
            )
    return exists


def ensure_table(
    spark: SparkSession,
    location: TableLocation,
    schema: StructType,
    partition_by: str | None = None,
    cluster_by: str | None = None,
) -> None:
    """Create the table with the declared schema when missing (see :func:`check_table`)."""
    if check_table(spark, location, schema):
        return
    builder = DeltaTable.createIfNotExists(spark)
    builder = builder.location(location.value) if location.is_path else builder.tableName(location.value)
    builder = builder.addColumns(schema)
    if partition_by:
        builder = builder.partitionedBy(partition_by)
    if cluster_by:
        builder = builder.clusterBy(cluster_by)
    builder.execute()


def _save(writer, location: TableLocation) -> None:
    if location.is_path:
        writer.save(location.value)
    else:
        writer.saveAsTable(location.value)


def replace_where(df: DataFrame, location: TableLocation, predicate: str | None) -> None:
    """Atomically replace the rows matching ``predicate`` (all rows when None) with ``df``."""
    writer = df.write.format("delta").mode("overwrite")
    if predicate is not None:
        writer = writer.option("replaceWhere", predicate)
    _save(writer, location)


def append(df: DataFrame, location: TableLocation) -> None:
    _save(df.write.format("delta").mode("append"), location)


def write_table(df: DataFrame, location: TableLocation, mode: str = "overwrite") -> None:
    """Plain write (used for sample data): create or replace the table with ``df``."""
    _save(df.write.format("delta").mode(mode).option("overwriteSchema", "true"), location)


def delta_table(spark: SparkSession, location: TableLocation) -> DeltaTable:
    return DeltaTable.forPath(spark, location.value) if location.is_path else DeltaTable.forName(spark, location.value)


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


def last_commit(spark: SparkSession, location: TableLocation) -> Commit:
    """The table's latest commit (one look at its log)."""
    row = spark.sql(f"DESCRIBE HISTORY {location.sql} LIMIT 1").first()
    return Commit(int(row["version"]), row["operation"], dict(row["operationMetrics"] or {}))


def merge_into(df: DataFrame, location: TableLocation, on: str, clauses: str) -> None:
    """``MERGE INTO`` the table (alias t) ``USING`` ``df`` (alias s), in SQL through a temporary
    view, so that it runs on any Spark with Delta's SQL extension."""
    view = f"merge_source_{uuid.uuid4().hex}"
    df.createOrReplaceTempView(view)
    try:
        df.sparkSession.sql(f"MERGE INTO {location.sql} t USING {view} s ON {on} {clauses}")
    finally:
        df.sparkSession.catalog.dropTempView(view)


def table_version(spark: SparkSession, location: TableLocation) -> int:
    return last_commit(spark, location).version


def run_available_now(stream: DataFrame, checkpoint: str, process_batch, query_name: str) -> list[dict]:
    """Process everything the stream has not yet seen, in micro-batches, then stop.

    ``process_batch(batch_df, batch_id)`` must be idempotent: a batch interrupted before its
    checkpoint commit is processed again by the next run. Returns the query's progress reports.
    """
    query = (
        stream.writeStream.queryName(query_name)
        .foreachBatch(process_batch)
        .option("checkpointLocation", checkpoint)
        .trigger(availableNow=True)
        .start()
    )
    try:
        query.awaitTermination()
    except StreamingQueryException as exc:
        if "DIFFERENT_DELTA_TABLE_READ_BY_STREAMING_SOURCE" in str(exc):
            raise TableError(
                f"the checkpoint {checkpoint} belongs to another payload table (or the payload table was "
                "dropped and re-created). Give each payload table its own state.checkpoint (--checkpoint); "
                "to start this table over, see 'Resetting the checkpoint' in the README. Nothing was written."
            ) from None
        raise
    return [progress if isinstance(progress, dict) else json.loads(progress.json) for progress in query.recentProgress]


def source_versions(progress: list[dict]) -> str:
    """The payload table versions a stream read, from its progress reports."""
    def version(offset) -> str:
        if isinstance(offset, str):
            offset = json.loads(offset)
        return str(offset.get("reservoirVersion")) if isinstance(offset, dict) else "start"

    spans = [(p["sources"][0].get("startOffset"), p["sources"][0].get("endOffset"))
             for p in progress if p.get("sources") and p.get("numInputRows", 0)]
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
