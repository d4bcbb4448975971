"""A tiny helper so each column is declared with its description in one line."""
from pyspark.sql.types import DataType, StructField


def column(name: str, data_type: DataType, comment: str, nullable: bool = True) -> StructField:
    """A StructField whose metadata carries the column's documentation."""
    return StructField(name, data_type, nullable, metadata={"comment": comment})
