"""The ``eval-set`` command: write the evaluation set (``tables.eval_set``) of a range of request
dates from the derived tables (:mod:`pipelines.transforms.eval_set`). The range's rows are
replaced in one commit, so a rerun over the same range leaves the same table."""
from __future__ import annotations

from dataclasses import asdict, dataclass

from pyspark.sql import SparkSession
from pyspark.sql import functions as F

from pipelines.config import Settings
from pipelines.errors import ConfigError
from pipelines.io import delta_tables
from pipelines.io.delta_tables import TableLocation
from pipelines.runs.dates import DateRange
from pipelines.runs.report import observed
from pipelines.runs.writers import committed
from pipelines.transforms.eval_set import eval_set_rows
from schemas.tables import EVAL_SET


@dataclass
class EvalSetReport:
    table: str
    dates: str
    rows: int                   # rated requests written
    with_expected_response: int
    with_expected_context: int
    rows_written: int           # what the commit wrote

    @property
    def ok(self) -> bool:
        return self.rows_written == self.rows

    def as_dict(self) -> dict:
        return {**asdict(self), "ok": self.ok}


def export_eval_set(spark: SparkSession, settings: Settings, dates: DateRange) -> EvalSetReport:
    """Replace the range's rows of the evaluation set by those the tables derive to now."""
    tables = settings.tables
    if not tables.eval_set:
        raise ConfigError("tables.eval_set is not set: name the table the evaluation set is written to")
    location = TableLocation(tables.eval_set)
    delta_tables.ensure_declared(spark, location, EVAL_SET)
    predicate = dates.predicate("date")
    logs = delta_tables.read_table(spark, TableLocation(tables.request_logs))
    details = None
    if tables.request_details and delta_tables.table_exists(spark, TableLocation(tables.request_details)):
        details = delta_tables.read_table(spark, TableLocation(tables.request_details))
    if predicate is not None:
        logs = logs.where(predicate)
        details = details.where(predicate) if details is not None else None
    rows = eval_set_rows(logs, delta_tables.read_table(spark, TableLocation(tables.assessment_logs)), details)
    counted, counts = observed(rows, "eval_set", [
        F.count(F.lit(1)).alias("rows"),
        F.count_if(F.get_json_object("expectations", "$.expected_response").isNotNull()).alias("with_response"),
        F.count_if(F.get_json_object("expectations", "$.expected_retrieved_context").isNotNull()).alias("with_context"),
    ])
    commit = committed(spark, location, lambda tag: delta_tables.replace_where(counted, location, predicate, tag))
    found = counts.get
    return EvalSetReport(str(location), dates.describe(), int(found["rows"]), int(found["with_response"]),
                         int(found["with_context"]), commit.rows_written if commit is not None else 0)
