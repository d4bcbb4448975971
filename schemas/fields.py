"""A tiny helper so each column is declared with its description in one line."""
from pyspark.sql.types import ArrayType, BooleanType, DataType, MapType, StructField, StructType

#: Column metadata key: the column holds long free text (bodies, traces, whole rows as JSON).
LONG_TEXT = "long_text"


def column(name: str, data_type: DataType, comment: str, nullable: bool = True, long_text: bool = False) -> StructField:
    """A StructField whose metadata carries the column's documentation (and whether it holds long
    free text, on which Delta keeps no statistics: see :func:`stats_columns`)."""
    metadata = {"comment": comment, **({LONG_TEXT: True} if long_text else {})}
    return StructField(name, data_type, nullable, metadata=metadata)


def stats_columns(schema: StructType, partition_by: str | None = None) -> list[str]:
    """The columns Delta keeps file statistics on (``delta.dataSkippingStatsColumns``): all but the
    long-text ones (min/max of a 10 KiB body skip nothing and cost every write), the partition
    column (which needs none) and maps, arrays and booleans (which Delta keeps none on)."""
    return [f.name for f in schema.fields if not f.metadata.get(LONG_TEXT) and f.name != partition_by
            and not isinstance(f.dataType, (MapType, ArrayType, BooleanType))]
