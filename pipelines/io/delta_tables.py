"""Delta reads and writes. A table location is either a metastore name
(``catalog.schema.table``) or a filesystem path (anything containing ``/``)."""
from __future__ import annotations

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
