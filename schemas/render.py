"""DDL and documentation derived from the declared schemas (nothing is written twice).

``python -m schemas.render`` prints the schema section of docs/derivation-rules.md; a test keeps
the docs in step with the declarations.
"""
from pyspark.sql.types import StructType

from schemas.fields import LONG_TEXT, stats_columns
from schemas.reasons import QUARANTINE_REASONS
from schemas.tables import DERIVED, EVAL_SET, REQUEST_DETAILS


def ddl_columns(schema: StructType) -> str:
    """Column list for CREATE TABLE, with each column's comment."""
    def quote(text: str) -> str:
        return text.replace("'", "\\'")

    return ",\n".join(
        f"  `{f.name}` {f.dataType.simpleString()} COMMENT '{quote(f.metadata.get('comment', ''))}'"
        for f in schema.fields
    )


def create_table_ddl(name: str, schema: StructType, partition_by: str | None = None,
                     cluster_by: str | None = None) -> str:
    layout = f"\nPARTITIONED BY (`{partition_by}`)" if partition_by else f"\nCLUSTER BY (`{cluster_by}`)" if cluster_by else ""
    properties = ""
    if any(f.metadata.get(LONG_TEXT) for f in schema.fields):
        properties = f"\nTBLPROPERTIES ('delta.dataSkippingStatsColumns' = '{','.join(stats_columns(schema, partition_by))}')"
    return f"CREATE TABLE IF NOT EXISTS {name} (\n{ddl_columns(schema)}\n) USING DELTA{layout}{properties};"


def markdown_table(schema: StructType) -> str:
    rows = ["| column | type | description |", "|---|---|---|"]
    rows += [f"| `{f.name}` | `{f.dataType.simpleString()}` | {f.metadata.get('comment', '')} |" for f in schema.fields]
    return "\n".join(rows)


def reasons_table() -> str:
    rows = ["| reason | what happened | what to do |", "|---|---|---|"]
    rows += [f"| `{code}` | {what} | {action} |" for code, (what, action) in QUARANTINE_REASONS.items()]
    return "\n".join(rows)


def schema_docs() -> str:
    parts = []
    for table in (*DERIVED, REQUEST_DETAILS, EVAL_SET):   # the tables derived from the payload
        parts += [f"#### `{table.title}`", "", markdown_table(table.schema), ""]
    parts += ["#### Quarantine reasons", "", reasons_table()]
    return "\n".join(parts)


if __name__ == "__main__":
    print(schema_docs())
