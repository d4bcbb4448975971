"""The latest rating per rater and target: the review app logs a row for nearly every click, so
the same rating arrives many times. Assessment logs stay complete; this is a view over them."""
from pyspark.sql import Column, DataFrame, Window
from pyspark.sql import functions as F

from schemas.tables import ASSESSMENT_LOGS_LATEST


def latest_rows(rows: DataFrame, keys: list[Column | str]) -> DataFrame:
    """The latest row (by ``timestamp``) of ``rows`` per value of ``keys``. Ties on timestamp are
    broken on the row's content, so the result is deterministic."""
    order = Window.partitionBy(*keys).orderBy(F.col("timestamp").desc(), F.to_json(F.struct(*rows.columns)).desc())
    return rows.withColumn("_rank", F.row_number().over(order)).where(F.col("_rank") == 1).select(*rows.columns)


def latest_assessments(assessment_logs: DataFrame) -> DataFrame:
    """Assessment-log rows, keeping only the latest per rater and target (the latest-feedback
    table's identity: request_id, step_id, source id, retrieval position; text and retrieval
    assessments apart)."""
    return latest_rows(assessment_logs, [F.expr(sql) for sql in ASSESSMENT_LOGS_LATEST.identity_sql()])


def _same_target(t: str, s: str) -> str:
    return " AND ".join(f"{stored} <=> {batch}" for stored, batch in
                        zip(ASSESSMENT_LOGS_LATEST.identity_sql(f"{t}."), ASSESSMENT_LOGS_LATEST.identity_sql(f"{s}.")))


def _newer(s: str, t: str, columns: list[str]) -> str:
    def row_text(side: str) -> str:
        return "to_json(named_struct(" + ", ".join(f"'{c}', {side}.{c}" for c in columns) + "))"

    return (f"({s}.timestamp > {t}.timestamp OR ({s}.timestamp = {t}.timestamp "
            f"AND {row_text(s)} > {row_text(t)}))")


def latest_merge_sql(columns: list[str]) -> tuple[str, str]:
    """MERGE ON and update condition that fold the latest ratings of some assessment rows
    (alias s) into a latest-feedback table (alias t): a newer rating of the same rater and
    target replaces the kept one, by the same order as :func:`latest_assessments`."""
    return _same_target("t", "s"), _newer("s", "t", columns)
