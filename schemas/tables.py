"""The tables the jobs write, declared once: each one's name (also its key under ``tables:`` in
the configuration), schema, the columns that identify a row, and its layout.

The writers (:mod:`pipelines.runs.outputs`), the configuration's ``tables:`` keys
(:mod:`pipelines.config`), the table checks, the schema docs and the tests derive from these;
adding a table means adding its schema module and one entry here.
"""
from __future__ import annotations

from dataclasses import dataclass

from pyspark.sql.types import StructType

from schemas.assessment_logs import ASSESSMENT_LOGS as ASSESSMENT_LOGS_SCHEMA
from schemas.eval_set import EVAL_SET as EVAL_SET_SCHEMA
from schemas.quarantine import QUARANTINE as QUARANTINE_SCHEMA
from schemas.request_details import REQUEST_DETAILS as REQUEST_DETAILS_SCHEMA
from schemas.request_logs import REQUEST_LOGS as REQUEST_LOGS_SCHEMA
from schemas.run_history import RUN_HISTORY as RUN_HISTORY_SCHEMA


@dataclass(frozen=True)
class Table:
    """One table a job writes."""
    #: Its key under ``tables:`` in the configuration, and its name in the run's counts.
    name: str
    #: Its name in the docs, after the vendor's pattern.
    title: str
    schema: StructType
    #: What its configuration key names, for the configuration reference.
    description: str
    #: SQL expressions over a row, each with ``{side}`` where a table alias and a dot may go:
    #: two rows with equal values of all of them are the same row.
    identity: tuple[str, ...]
    partition_by: str | None = None
    cluster_by: str | None = None
    #: The date or timestamp column a range of payload dates is read and replaced on.
    range_column: str | None = None
    #: Written only when its configuration key is set.
    optional: bool = False

    def identity_sql(self, side: str = "") -> list[str]:
        """The identity's expressions, on the rows of alias ``side`` (``"t."``) or unqualified."""
        return [expression.format(side=side) for expression in self.identity]


REQUEST_LOGS = Table(
    "request_logs", "{model}_payload_request_logs", REQUEST_LOGS_SCHEMA,
    "The request-logs output table (a table name or a path).",
    identity=("{side}date", "{side}databricks_request_id"), partition_by="date", range_column="date",
)
ASSESSMENT_LOGS = Table(
    "assessment_logs", "{model}_payload_assessment_logs", ASSESSMENT_LOGS_SCHEMA,
    "The assessment-logs output table.",
    # an assessment is its whole content: the review app logs the same rating again and again
    identity=tuple(f"{{side}}{name}" for name in ASSESSMENT_LOGS_SCHEMA.fieldNames()),
    cluster_by="timestamp", range_column="timestamp",
)
QUARANTINE = Table(
    "quarantine", "{model}_payload_quarantine", QUARANTINE_SCHEMA,
    "The quarantine output table.",
    identity=("{side}date", "{side}databricks_request_id", "{side}reason", "{side}payload_row"),
    partition_by="date", range_column="date",
)
ASSESSMENT_LOGS_LATEST = Table(
    "assessment_logs_latest", "{model}_payload_assessment_logs_latest", ASSESSMENT_LOGS_SCHEMA,
    "Latest rating per rater and target; none = not kept.",
    # one rater's rating of one target: a text assessment and a retrieval one are kept apart
    identity=("{side}request_id", "{side}step_id", "{side}source.id", "{side}retrieval_assessment.position",
              "({side}retrieval_assessment IS NULL)"),
    cluster_by="timestamp", optional=True,
)
REQUEST_DETAILS = Table(
    "request_details", "{model}_payload_request_details", REQUEST_DETAILS_SCHEMA,
    "Tokens, retrieved documents and tool calls per request-logs row; none = not derived.",
    identity=("{side}date", "{side}databricks_request_id"), partition_by="date", range_column="date", optional=True,
)
EVAL_SET = Table(
    "eval_set", "{model}_payload_eval_set", EVAL_SET_SCHEMA,
    "Evaluation set written by the eval-set command.",
    identity=("{side}date", "{side}request_id"), partition_by="date", range_column="date", optional=True,
)
RUN_HISTORY = Table(
    "run_history", "{model}_payload_run_history", RUN_HISTORY_SCHEMA, "One row per run; none = not recorded.",
    identity=("{side}run_id",), optional=True,
)

#: The tables every run derives from the payload, one pass each (one per destination of a row).
DERIVED = (REQUEST_LOGS, ASSESSMENT_LOGS, QUARANTINE)
#: Every table a job may write.
TABLES = (*DERIVED, REQUEST_DETAILS, ASSESSMENT_LOGS_LATEST, EVAL_SET, RUN_HISTORY)
