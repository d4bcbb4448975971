"""Deduplication and the valid/quarantine split: every payload row gets exactly one
destination (request_logs, assessment_logs or quarantine) and, when quarantined, one reason."""
from pyspark.sql import Column, DataFrame, Window
from pyspark.sql import functions as F

from schemas.quarantine import QUARANTINE_REASONS

REQUEST_LOGS = "request_logs"
ASSESSMENT_LOGS = "assessment_logs"
QUARANTINE = "quarantine"


def preference_order() -> list[Column]:
    """Which of several rows with one databricks_request_id is kept: a total order on the
    row's content, so that every run keeps the same one."""
    return [
        F.col("response_raw").isNull().asc(),
        F.col("timestamp_ms").desc_nulls_last(),
        F.col("status_code").asc_nulls_last(),
        F.col("response_raw").asc_nulls_last(),
        F.col("request_raw").asc_nulls_last(),
    ]


def collapse_duplicates(df: DataFrame) -> DataFrame:
    """One row per databricks_request_id, chosen by :func:`preference_order`; the column
    ``duplicates_collapsed`` counts the rows it stands for beyond itself. Rows without an id
    are all kept (each is quarantined).

    Only the rows of repeated ids are shuffled: the repeated ids are found on the id column
    alone and broadcast (about 100 bytes per repeated id), so unique rows, the common case,
    pass through with their bodies unmoved.
    """
    request_id = "databricks_request_id"
    repeated = F.broadcast(
        df.where(F.col(request_id).isNotNull()).groupBy(request_id)
        .agg((F.count(F.lit(1)) - 1).alias("duplicates_collapsed"))
        .where(F.col("duplicates_collapsed") > 0)
    )
    columns = [*df.columns, "duplicates_collapsed"]
    unique = df.join(repeated, request_id, "left_anti").withColumn("duplicates_collapsed", F.lit(0).cast("bigint"))
    ranked = df.join(repeated, request_id).withColumn(
        "_rank", F.row_number().over(Window.partitionBy(request_id).orderBy(*preference_order())))
    kept = ranked.where(F.col("_rank") == 1)
    return unique.select(*columns).unionByName(kept.select(*columns))


def preferred_new_rows(new_rows: DataFrame, existing_rows: DataFrame) -> DataFrame:
    """The request-log rows of ``new_rows`` that win, by :func:`preference_order`, over the
    existing rows with the same databricks_request_id (rows of the same content tie either way).
    Merging only these keeps an incremental run equal to a backfill."""
    both = new_rows.withColumn("_new", F.lit(True)).unionByName(existing_rows.withColumn("_new", F.lit(False)))
    ranked = both.withColumn(
        "_rank", F.row_number().over(Window.partitionBy("databricks_request_id").orderBy(*preference_order()))
    )
    return ranked.where((F.col("_rank") == 1) & F.col("_new")).drop("_rank", "_new")


def is_2xx(status: Column) -> Column:
    return status.between(200, 299)


def quarantine_reason(feedback: Column, feedback_problem: Column) -> Column:
    """The first reason that applies to a normalised row, or null when it can be derived."""
    return (
        F.when(F.col("databricks_request_id").isNull(), F.lit("missing_request_id"))
        .when(F.col("timestamp").isNull(), F.lit("missing_timestamp"))
        .when(F.col("status_code_raw").isNotNull() & F.col("status_code").isNull(), F.lit("invalid_status_code"))
        .when(F.col("request_raw").isNotNull() & ~F.col("request_parsed"), F.lit("request_not_json"))
        .when(feedback & F.col("status_code").isNotNull() & ~is_2xx(F.col("status_code")),
              F.lit("feedback_error_status"))
        .when(feedback & feedback_problem.isNotNull(), feedback_problem)
        .when(feedback & (F.to_date(F.col("timestamp")) != F.col("date")), F.lit("feedback_timestamp_outside_date"))
    )


def destination(reason: Column, feedback: Column) -> Column:
    return (
        F.when(reason.isNotNull(), F.lit(QUARANTINE))
        .when(feedback, F.lit(ASSESSMENT_LOGS))
        .otherwise(F.lit(REQUEST_LOGS))
    )


def reason_detail(reason: Column) -> Column:
    """The reason code in words, from the declared catalogue."""
    texts = F.create_map(*[
        item
        for code, (what, action) in QUARANTINE_REASONS.items()
        for item in (F.lit(code), F.lit(f"{what} {action}"))
    ])
    return F.try_element_at(texts, reason)
