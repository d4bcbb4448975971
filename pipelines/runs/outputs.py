"""The three derived tables (declared in :mod:`schemas.tables`) as a run writes them: which stored
rows a batch can repeat and when a batch's row replaces a stored one; their locations from the
config, and their checks before a run.

Every run (backfill, hourly micro-batch, check) derives them with
:func:`pipelines.runs.passes.derive_outputs` and writes each with a writer
(:mod:`pipelines.runs.writers`).
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Callable

from pyspark.sql import SparkSession
from pyspark.sql.types import AtomicType, StructType

from pipelines.errors import ConfigError
from pipelines.io import delta_tables
from pipelines.io.delta_tables import TableLocation
from pipelines.transforms.duplicates import REQUEST_ID, preference_key_sql
from schemas import tables as declared
from schemas.fields import LONG_TEXT
from schemas.tables import Table


def _sql_dates(dates: list[dt.date]) -> str:
    return ", ".join(f"DATE'{day.isoformat()}'" for day in dates) or "NULL"


def _digest(*columns: str) -> str:
    """SQL: a digest of the named columns' values (nulls included), as one join key."""
    fields = ", ".join(f"'{name}', {name}" for name in columns)
    return f"sha2(to_json(named_struct({fields}), map('ignoreNullFields', 'false')), 256)"


@dataclass(frozen=True)
class Replacement:
    """When a merged batch's row replaces the stored row of the same identity: where ``when``
    holds (SQL; ``t.``: the stored row, ``s.``: the batch's). It reads only stored columns and
    the columns a pass keeps from the payload, so the rows to replace are found without deriving
    the batch's rows; ``key`` is the column they are then read again by."""
    when: str
    key: str


@dataclass(frozen=True)
class Output:
    """How a run writes one derived table (:mod:`schemas.tables` declares the table): which
    stored rows a batch can repeat, and when a batch's row replaces a stored one. A merged
    batch's rows whose identity is not stored yet are appended, and (request logs) a stored row
    is replaced by a batch's row the duplicate rule prefers."""
    table: Table
    #: SQL predicate: the stored rows a batch of the given payload dates can repeat (``side``:
    #: the table's alias and a dot, or "").
    stored_rows: Callable[[list[dt.date], str], str]
    #: When a stored row with the same identity is replaced by the batch's; None: never.
    replacement: Replacement | None = None

    @property
    def name(self) -> str:
        return self.table.name

    @property
    def schema(self) -> StructType:
        return self.table.schema

    @property
    def range_column(self) -> str:
        return self.table.range_column

    @property
    def identity(self) -> tuple[str, ...]:
        """SQL: the identity as join keys, the same on a batch's rows and the stored ones: the
        table's identity columns when they are short values, else one digest of them (struct
        and map columns cannot be compared, and a quarantined row's JSON is long)."""
        names = [expression.format(side="") for expression in self.table.identity]
        fields = {field.name: field for field in self.table.schema.fields}
        if all(name in fields and isinstance(fields[name].dataType, AtomicType)
               and not fields[name].metadata.get(LONG_TEXT) for name in names):
            return tuple(names)
        return (_digest(*names),)


def _on_dates(dates: list[dt.date], side: str) -> str:
    """SQL: the rows of a table partitioned by ``date`` on the given dates."""
    return f"{side}date IN ({_sql_dates(dates)})"


REQUEST_LOGS = Output(
    declared.REQUEST_LOGS,
    _on_dates,
    # a request id already there is replaced only by a row the duplicate rule prefers
    Replacement(f"{preference_key_sql('s.')} < {preference_key_sql('t.')}", REQUEST_ID),
)
ASSESSMENT_LOGS = Output(
    declared.ASSESSMENT_LOGS,
    # feedback rows are quarantined unless their timestamp falls on their date
    lambda dates, side: f"CAST({side}timestamp AS DATE) IN ({_sql_dates(dates)})",
)
QUARANTINE = Output(
    declared.QUARANTINE,
    lambda dates, side: f"({side}date IN ({_sql_dates(dates)}) OR {side}date IS NULL)",
)
REQUEST_DETAILS = Output(
    declared.REQUEST_DETAILS,
    _on_dates,
    # as the request logs, on the columns of the rule this table keeps (time, then status)
    Replacement(f"{preference_key_sql('s.', by_request=False)} < {preference_key_sql('t.', by_request=False)}",
                REQUEST_ID),
)

#: The outputs every run writes, and the optional ones written when configured.
OUTPUTS = (REQUEST_LOGS, ASSESSMENT_LOGS, QUARANTINE)
OPTIONAL_OUTPUTS = (REQUEST_DETAILS,)


class OutputTables(dict):
    """Output name -> TableLocation, from the config: the three outputs, and the optional ones
    that are configured."""

    @classmethod
    def from_settings(cls, settings) -> "OutputTables":
        tables = cls({output.name: TableLocation(getattr(settings.tables, output.name)) for output in OUTPUTS})
        tables.update({output.name: TableLocation(getattr(settings.tables, output.name))
                       for output in OPTIONAL_OUTPUTS if getattr(settings.tables, output.name)})
        if len(set(tables.values())) < len(tables):
            raise ConfigError(f"tables.{', tables.'.join(tables)} must be different tables")
        return tables

    @property
    def outputs(self) -> tuple[Output, ...]:
        """The outputs a run writes: the three, then the configured optional ones."""
        return tuple(output for output in (*OUTPUTS, *OPTIONAL_OUTPUTS) if output.name in self)

    @property
    def with_details(self) -> bool:
        """Whether runs derive the request details too."""
        return REQUEST_DETAILS.name in self


def ensure_output_tables(spark: SparkSession, tables: OutputTables) -> None:
    """Check every output table before creating any, so a refused run leaves nothing behind."""
    outputs = tables.outputs
    exists = {output.name: delta_tables.check_table(spark, tables[output.name], output.schema) for output in outputs}
    for output in outputs:
        if not exists[output.name]:
            delta_tables.create_declared(spark, tables[output.name], output.table)
