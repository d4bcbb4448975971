"""Delta reads and writes. A table location is either a metastore name
(``catalog.schema.table``) or a filesystem path (anything containing ``/``)."""
from __future__ import annotations

import json
import os
from dataclasses import dataclass

from delta.tables import DeltaTable
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql.types import StructType


class TableError(RuntimeError):
    """A table cannot be read or written as asked; the message says what to do."""


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

    def __str__(self) -> str:
        return self.value


def table_exists(spark: SparkSession, location: TableLocation) -> bool:
    if location.is_path:
        return DeltaTable.isDeltaTable(spark, location.value)
    return spark.catalog.tableExists(location.value)


def read_table(spark: SparkSession, location: TableLocation) -> DataFrame:
    if not table_exists(spark, location):
        raise TableError(
            f"no Delta table at {location}: check the table name or path in the config "
            "(tables.payload) or --payload-table."
        )
    reader = spark.read.format("delta")
    return reader.load(location.value) if location.is_path else spark.read.table(location.value)


def _comparable(schema: StructType) -> list[tuple[str, str]]:
    return [(field.name, field.dataType.simpleString()) for field in schema.fields]


def ensure_table(
    spark: SparkSession,
    location: TableLocation,
    schema: StructType,
    partition_by: str | None = None,
    cluster_by: str | None = None,
) -> None:
    """Create the table with the declared schema when missing; refuse one whose columns differ."""
    if table_exists(spark, location):
        actual = read_table(spark, location).schema
        if _comparable(actual) != _comparable(schema):
            raise TableError(
                f"table {location} does not have the declared schema; expected "
                f"{_comparable(schema)}, found {_comparable(actual)}. Point the config at a new "
                "location or migrate the table; nothing was written."
            )
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


def upsert(df: DataFrame, location: TableLocation, on: str) -> None:
    """MERGE ``df`` (alias s) into the table (alias t): update matches, insert the rest."""
    target = delta_table(df.sparkSession, location).alias("t")
    target.merge(df.alias("s"), on).whenMatchedUpdateAll().whenNotMatchedInsertAll().execute()


def insert_missing(df: DataFrame, location: TableLocation, on: str) -> None:
    """MERGE that only inserts the rows of ``df`` (alias s) matching no row of the table (t)."""
    target = delta_table(df.sparkSession, location).alias("t")
    target.merge(df.alias("s"), on).whenNotMatchedInsertAll().execute()


def table_version(spark: SparkSession, location: TableLocation) -> int:
    return delta_table(spark, location).history(1).first()["version"]


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
    query.awaitTermination()
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
    if not table_exists(spark, location):
        raise TableError(f"no Delta table at {location}: check tables.payload or --payload-table.")
    reader = spark.readStream.format("delta").option("skipChangeCommits", "true")
    if max_files_per_batch:
        reader = reader.option("maxFilesPerTrigger", max_files_per_batch)
    return reader.load(location.value) if location.is_path else reader.table(location.value)
