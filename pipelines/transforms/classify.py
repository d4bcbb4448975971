"""Deduplication and the valid/quarantine split: every payload row gets exactly one
destination (request_logs, assessment_logs or quarantine) and, when quarantined, one reason."""
from dataclasses import dataclass

from pyspark.sql import Column, DataFrame, Window
from pyspark.sql import functions as F

from schemas.quarantine import QUARANTINE_REASONS

REQUEST_LOGS = "request_logs"
ASSESSMENT_LOGS = "assessment_logs"
QUARANTINE = "quarantine"


REQUEST_ID = "databricks_request_id"


def preference_key_sql(side: str = "") -> str:
    """Which of several rows with one databricks_request_id is kept: the row with the smallest
    key, a total order on the row's content (a row with a response first, then the latest, then
    by status and bodies), so that every run keeps the same one. As SQL, so that a MERGE can
    compare its two sides with it (``side`` is the alias, e.g. ``"s."``)."""
    return (
        f"named_struct('no_response', {side}response_raw IS NULL, 'no_time', {side}timestamp_ms IS NULL, "
        f"'latest', 0 - coalesce({side}timestamp_ms, 0), 'no_status', {side}status_code IS NULL, "
        f"'status', coalesce({side}status_code, 0), 'response', coalesce({side}response_raw, ''), "
        f"'no_request', {side}request_raw IS NULL, 'request', coalesce({side}request_raw, ''))"
    )


def preference_key() -> Column:
    return F.expr(preference_key_sql())


def repeated_ids(normalized: DataFrame) -> DataFrame:
    """The request ids that occur more than once, with the number of rows beyond the first
    (read on the id column alone)."""
    return (
        normalized.where(F.col(REQUEST_ID).isNotNull()).groupBy(REQUEST_ID)
        .agg((F.count(F.lit(1)) - 1).alias("duplicates_collapsed"))
        .where(F.col("duplicates_collapsed") > 0)
    )


#: The digest of a whole normalized row (:func:`row_fingerprint`) a repeated id keeps.
KEPT_FINGERPRINT = "_kept_fingerprint"
KEPT_ROWS_SCHEMA = f"{REQUEST_ID} string, {KEPT_FINGERPRINT} string, duplicates_collapsed bigint"
#: The response body: the one wide column a pass may leave out (see :class:`KeptRows`).
RESPONSE_BODY = "response_raw"


def row_fingerprint(columns: list[str]) -> Column:
    """A SHA-256 digest of a whole normalized row (every column, nulls included). Only used to
    tell apart rows that share a request id: where two of them share a digest too, they are
    ranked instead (see :class:`KeptRows`), so a collision can never keep two rows."""
    row = F.struct(*[F.col(name) for name in columns])
    return F.sha2(F.to_json(row, {"ignoreNullFields": "false",
                                  "timestampFormat": "yyyy-MM-dd'T'HH:mm:ss.SSSSSSXXX"}), 256)


@dataclass(frozen=True)
class KeptRows:
    """Which row each repeated request id keeps, decided once for a run (:func:`decide_kept_rows`)
    so that each pass keeps it with one scan and a small broadcast join, instead of scanning
    the payload a second time to rank the repeated rows.

    ``kept``: a small frame (KEPT_ROWS_SCHEMA) of the ids whose preferred row is the only one
    with its content, with that row's digest and the rows it stands for beyond itself.
    ``ranked``: the ids whose preferred row has identical copies (a payload row logged twice):
    no digest can tell those apart, so each pass ranks these ids' rows as before.

    ``narrow``: every repeated id (KEPT_ROWS_SCHEMA) with the digest of its kept row without the
    response body; ``narrow_ranked``: the ids where other rows share that digest. When there are
    none, a pass that never reads responses (the assessment-logs pass) keeps the row with that
    digest, so it does not read every response body for the digest. Otherwise it keeps the
    whole-row digest: keeping one of several rows equal but for their response would take a
    second scan and a shuffle, which cost an hourly batch more than reading its responses."""
    kept: DataFrame
    ranked: list[str]
    narrow: DataFrame
    narrow_ranked: list[str]


def decide_kept_rows(normalized: DataFrame, ids: list[str]) -> KeptRows:
    """The :class:`KeptRows` of a normalized frame's repeated ``ids`` (a list collected by
    :func:`repeated_ids`): one look at those ids' rows, the same choice as :func:`preference_key`
    (ties between rows equal on it are broken by their digest, so every run keeps the same)."""
    names = normalized.columns
    candidates = normalized.where(F.col(REQUEST_ID).isin(ids)).withColumns({
        "_fingerprint": row_fingerprint(names),
        "_narrow": row_fingerprint([name for name in names if name != RESPONSE_BODY])})
    copies = candidates.groupBy(REQUEST_ID, "_fingerprint", "_narrow").agg(
        F.min(preference_key()).alias("_key"), F.count(F.lit(1)).alias("_copies"))
    per_id = copies.groupBy(REQUEST_ID).agg(
        F.min(F.struct("_key", "_fingerprint", "_narrow", "_copies")).alias("_best"),
        (F.sum("_copies") - 1).alias("duplicates_collapsed"),
        F.collect_list(F.struct("_narrow", "_copies")).alias("_groups"))
    decided = per_id.select(REQUEST_ID, "_best._fingerprint", "_best._copies", "duplicates_collapsed",
                            "_best._narrow", "_groups").collect()
    kept = [(row[0], row[1], row[3]) for row in decided if row[2] == 1]
    ranked = sorted(row[0] for row in decided if row[2] > 1)
    narrow = [(row[0], row[4], row[3]) for row in decided]
    narrow_ranked = sorted(row[0] for row in decided if sum(group[1] for group in row[5] if group[0] == row[4]) > 1)
    spark = normalized.sparkSession
    return KeptRows(spark.createDataFrame(kept, KEPT_ROWS_SCHEMA), ranked,
                    spark.createDataFrame(narrow, KEPT_ROWS_SCHEMA), narrow_ranked)


def _ranked(candidates: DataFrame) -> DataFrame:
    """The preferred row of each request id among ``candidates``, by a window."""
    by_id = Window.partitionBy(REQUEST_ID)
    return (
        candidates.withColumn("_rank", F.row_number().over(by_id.orderBy(preference_key())))
        .withColumn("duplicates_collapsed", F.count(F.lit(1)).over(by_id) - 1)
        .where(F.col("_rank") == 1)
    )


def _without_ids(df: DataFrame, ids: list[str]) -> DataFrame:
    """The rows whose request id is not one of ``ids`` (rows without an id included)."""
    return df.where(~F.coalesce(F.col(REQUEST_ID).isin(ids), F.lit(False))) if ids else df


def _matching(df: DataFrame, names: list[str], decided: DataFrame) -> DataFrame:
    """The rows of ``df`` whose id is not in ``decided``, or whose digest is the one it keeps."""
    joined = df.join(F.broadcast(decided), REQUEST_ID, "left")
    return joined.where(
        F.col(KEPT_FINGERPRINT).isNull() | (F.col(KEPT_FINGERPRINT) == row_fingerprint(names))
    ).withColumn("duplicates_collapsed", F.coalesce(F.col("duplicates_collapsed"), F.lit(0).cast("bigint")))


def _keep_decided(df: DataFrame, decided: KeptRows) -> DataFrame:
    names = df.columns  # one schema lookup (on Spark Connect, a round trip to the server)
    columns = [*names, "duplicates_collapsed"]
    if RESPONSE_BODY not in names:  # a pass that reads no response: the digests without it
        if decided.narrow_ranked:
            raise ValueError("rows that differ only in their response need the response body to keep one")
        return _matching(df, names, decided.narrow).select(*columns)
    kept = _matching(_without_ids(df, decided.ranked), names, decided.kept)
    if not decided.ranked:
        return kept.select(*columns)
    return kept.select(*columns).unionByName(_ranked(df.where(F.col(REQUEST_ID).isin(decided.ranked))).select(*columns))


def collapse_duplicates(df: DataFrame, repeated: "list[str] | KeptRows | DataFrame | None" = None) -> DataFrame:
    """One row per databricks_request_id, chosen by :func:`preference_key`; the column
    ``duplicates_collapsed`` counts the rows it stands for beyond itself. Rows without an id
    are all kept (each is quarantined).

    ``repeated`` says how the repeated ids are found:

    - :class:`KeptRows` decided once for the run: one scan, the kept rows picked by digest
      (by the digest without the response body when ``df`` has no ``response_raw``, which
      needs ``narrow_ranked`` empty);
    - a list of the ids that occur more than once (:func:`repeated_ids`), collected
      beforehand: only those rows are ranked, the others pass through unmoved (an empty list:
      nothing to rank);
    - the frame that finds them, or None to find them here with a join.
    """
    if isinstance(repeated, KeptRows):
        return _keep_decided(df, repeated)
    columns = [*df.columns, "duplicates_collapsed"]
    if repeated is not None and not isinstance(repeated, DataFrame):
        unique = _without_ids(df, repeated).withColumn("duplicates_collapsed", F.lit(0).cast("bigint"))
        if not repeated:
            return unique.select(*columns)
        candidates = df.where(F.col(REQUEST_ID).isin(repeated))
    else:
        found = F.broadcast(repeated_ids(df) if repeated is None else repeated)
        unique = df.join(found.select(REQUEST_ID), REQUEST_ID, "left_anti").withColumn(
            "duplicates_collapsed", F.lit(0).cast("bigint"))
        candidates = df.join(found.select(REQUEST_ID), REQUEST_ID, "left_semi")
    return unique.select(*columns).unionByName(_ranked(candidates).select(*columns))


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
