"""Duplicate request ids (delivery is best effort): one row is kept per ``databricks_request_id``,
and the column ``duplicates_collapsed`` counts the rows it stands for beyond itself.

Which row is kept is a fixed order on the row's content (:func:`preference`): the row with a
request time first, then the latest, then by status and request body, then by the rest of the
row but the response; rows still equal are ordered by their response (a row with one first).
The passes that do not read responses (assessment logs, quarantine) need not see that last
step: rows equal but for their response go to the same table and give those passes the same
output, so any of them will do there.
"""
from __future__ import annotations

from dataclasses import dataclass

from pyspark.sql import Column, DataFrame, Window
from pyspark.sql import functions as F

REQUEST_ID = "databricks_request_id"
COLLAPSED = "duplicates_collapsed"


def preference_key_sql(side: str = "", by_request: bool = True) -> str:
    """The leading part of the order that picks the kept row, as SQL, so that a MERGE can
    compare a new request-logs row (``side`` ``"s."``) with a stored one (``"t."``): a row
    with a request time first, then the latest, then by status and request body. It reads only
    columns that the request-logs table keeps (without ``by_request``: only its time and status,
    which the request-details table keeps)."""
    request = (f", 'no_request', {side}request_raw IS NULL, 'request', coalesce({side}request_raw, '')"
               if by_request else "")
    return (
        f"named_struct('no_time', {side}timestamp_ms IS NULL, 'latest', 0 - coalesce({side}timestamp_ms, 0), "
        f"'no_status', {side}status_code IS NULL, 'status', coalesce({side}status_code, 0){request})"
    )


#: JSON options that keep every value of a row, to the microsecond.
ROW_JSON = {"ignoreNullFields": "false", "timestampFormat": "yyyy-MM-dd'T'HH:mm:ss.SSSSSSXXX"}


def _rest_of_row(columns: list[str]) -> Column:
    """The row's other columns as JSON, nulls included: the last part of the order, so that two
    rows differing in any of them are always ordered the same way."""
    return F.to_json(F.struct(*[F.col(name) for name in columns]), ROW_JSON)


def preference(columns: list[str], by_response: bool) -> list[Column]:
    """The whole order over a normalized frame's ``columns`` (smallest first)."""
    rest = [name for name in columns if name not in ("response_raw", COLLAPSED)]
    order = [F.expr(preference_key_sql()), _rest_of_row(rest)]
    if by_response and "response_raw" in columns:  # a row with a response first, then by its text
        order += [F.col("response_raw").isNull(), F.coalesce(F.col("response_raw"), F.lit(""))]
    return order


def repeated_ids(normalized: DataFrame) -> DataFrame:
    """The request ids that occur more than once (read on the id column alone)."""
    return (
        normalized.where(F.col(REQUEST_ID).isNotNull()).groupBy(REQUEST_ID)
        .agg((F.count(F.lit(1)) - 1).alias(COLLAPSED))
        .where(F.col(COLLAPSED) > 0)
    )


def _ranked(candidates: DataFrame, by_response: bool) -> DataFrame:
    """The preferred row of each request id among ``candidates``, by a window."""
    by_id = Window.partitionBy(REQUEST_ID)
    order = preference(candidates.columns, by_response)
    return (
        candidates.withColumn("_rank", F.row_number().over(by_id.orderBy(*order)))
        .withColumn(COLLAPSED, F.count(F.lit(1)).over(by_id) - 1)
        .where(F.col("_rank") == 1)
        .drop("_rank")
    )


@dataclass(frozen=True)
class KeptRows:
    """The kept row of each repeated request id, decided once for a run: ``ids`` and, in
    ``rows``, those rows themselves (normalized, with ``duplicates_collapsed``) as a small local
    frame. A pass then takes the other ids' rows from its one scan and these from ``rows``: no
    pass reads the payload twice, and all of them keep the same rows."""
    ids: list[str]
    rows: DataFrame


def kept_rows(normalized: DataFrame, ids: list[str], max_row_bytes: int) -> KeptRows | None:
    """One look at the rows of the repeated ``ids`` (their whole content, response included):
    the kept row of each, gathered here. None when a kept row's bodies are larger than
    ``max_row_bytes`` (each pass then ranks the rows itself, :func:`collapse_duplicates`)."""
    ranked = _ranked(normalized.where(F.col(REQUEST_ID).isin(ids)), by_response=True)
    size = F.coalesce(F.length("request_raw"), F.lit(0)) + F.coalesce(F.length("response_raw"), F.lit(0))
    # carried as JSON text: it keeps every value as it was (a Python round trip reorders maps)
    looked = ranked.select(F.when(size <= max_row_bytes, F.to_json(F.struct(*ranked.columns), ROW_JSON))).collect()
    if any(entry[0] is None for entry in looked):
        return None
    texts = normalized.sparkSession.createDataFrame([(entry[0],) for entry in looked], "row string")
    rows = texts.select(F.from_json("row", ranked.schema, ROW_JSON).alias("row")).select("row.*")
    return KeptRows(sorted(ids), rows)


def collapse_duplicates(df: DataFrame, repeated: "KeptRows | list[str] | DataFrame | None",
                        by_response: bool = False) -> DataFrame:
    """One row per databricks_request_id, with ``duplicates_collapsed``. Rows without an id are
    all kept (each is quarantined).

    ``repeated`` says which ids occur more than once: their :class:`KeptRows` (the other rows
    pass through, the kept ones are added from it); or a list collected beforehand (only those
    rows are ranked, by a second scan and a window; an empty list: nothing to rank); or the
    frame of :func:`repeated_ids` when there are too many to list (joined); or None to find them
    here. ``by_response``: when ranking here, break the remaining ties by the response body
    (the request-logs pass)."""
    columns = [*df.columns, COLLAPSED]
    if isinstance(repeated, KeptRows):
        others = df.where(~F.coalesce(F.col(REQUEST_ID).isin(repeated.ids), F.lit(False)))
        return others.withColumn(COLLAPSED, F.lit(0).cast("bigint")).unionByName(repeated.rows.select(*columns))
    if isinstance(repeated, list):
        if not repeated:
            return df.withColumn(COLLAPSED, F.lit(0).cast("bigint"))
        unique = df.where(~F.coalesce(F.col(REQUEST_ID).isin(repeated), F.lit(False)))
        candidates = df.where(F.col(REQUEST_ID).isin(repeated))
    else:
        found = F.broadcast((repeated_ids(df) if repeated is None else repeated).select(REQUEST_ID))
        unique = df.join(found, REQUEST_ID, "left_anti")
        candidates = df.join(found, REQUEST_ID, "left_semi")
    unique = unique.withColumn(COLLAPSED, F.lit(0).cast("bigint")).select(*columns)
    return unique.unionByName(_ranked(candidates, by_response).select(*columns))
