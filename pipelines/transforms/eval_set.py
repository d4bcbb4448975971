"""The evaluation set: one row per rated request, in MLflow's evaluation-dataset record shape
(schemas/eval_set.py), from the request logs, the assessment logs and (for the retrieved
context) the request details.

- The rating is the latest rating of the answer (a text assessment) by any rater; ties on time
  are broken on the row's content, so the result is deterministic.
- ``expected_response``: the latest ``suggested_output`` any rater gave; else the answer when the
  latest rating is positive; else absent.
- ``expected_retrieved_context``: the retrieved documents whose latest retrieval rating is
  positive, ``position`` counting the request's retrieved documents in trace order from 0.
"""
from __future__ import annotations

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from pipelines.transforms.latest_feedback import latest_rows
from schemas.eval_set import EVAL_SET

#: Rating values that count as positive (a JSON boolean is logged as 'true').
POSITIVE = ("positive", "true", "yes")
#: The review app's rating of the answer; another rating is read when it is absent.
ANSWER_RATING = "answer_correct"


def rating_value(ratings: Column) -> Column:
    """The value of a ratings map: its ``answer_correct``, else its first rating by name."""
    first = ratings[F.array_min(F.map_keys(ratings))]
    return F.coalesce(ratings[ANSWER_RATING].getField("value"), first.getField("value"))


def is_positive(value: Column) -> Column:
    return F.coalesce(F.lower(F.trim(value)).isin(*POSITIVE), F.lit(False))


def answer_ratings(assessment_logs: DataFrame) -> DataFrame:
    """Per rated request: the latest rating of the answer (rater, value, time) and the latest
    suggested output."""
    text = assessment_logs.where(F.col("text_assessment").isNotNull()).select(
        "request_id", "timestamp", F.col("source.id").alias("rater"),
        rating_value(F.col("text_assessment.ratings")).alias("rating"),
        F.col("text_assessment.suggested_output").alias("suggested_output"))
    latest = latest_rows(text.drop("suggested_output"), ["request_id"]).withColumnRenamed("timestamp", "rated_at")
    suggested = latest_rows(text.where(F.col("suggested_output").isNotNull()).select("request_id", "timestamp",
                                                                                 "suggested_output"), ["request_id"])
    return latest.join(suggested.drop("timestamp"), "request_id", "left")


def relevant_positions(assessment_logs: DataFrame) -> DataFrame:
    """Per request: the positions of the retrieved documents whose latest rating is positive."""
    retrieval = assessment_logs.where(F.col("retrieval_assessment.position").isNotNull()).select(
        "request_id", "timestamp", F.col("retrieval_assessment.position").alias("position"),
        rating_value(F.col("retrieval_assessment.ratings")).alias("rating"))
    latest = latest_rows(retrieval, ["request_id", "position"]).where(is_positive(F.col("rating")))
    return latest.groupBy("request_id").agg(F.array_sort(F.collect_set("position")).alias("positions"))


def _expected_context(documents: Column, positions: Column) -> Column:
    """The documents at the rated positions (a position beyond the documents is skipped)."""
    picked = F.transform(positions, lambda p: F.try_element_at(documents, p + 1))
    kept = F.filter(picked, lambda d: d.isNotNull())
    return F.when(F.size(kept) > 0, F.transform(kept, lambda d: F.struct(d.getField("doc_uri").alias("doc_uri"),
                                                                           d.getField("content").alias("content"))))


def _inputs(request_raw: Column, request: Column) -> Column:
    """The request body as logged when it is a JSON object, else the last user query."""
    return F.when(F.ltrim(request_raw).startswith("{"), request_raw).otherwise(
        F.to_json(F.struct(request.alias("request"))))


def eval_set_rows(request_logs: DataFrame, assessment_logs: DataFrame, request_details: DataFrame | None) -> DataFrame:
    """The evaluation set of the request-logs rows that were rated (a rating of a request not in
    ``request_logs`` has no row). Without ``request_details``, no retrieved context is known."""
    rated = (assessment_logs.select("request_id").distinct()
             .join(answer_ratings(assessment_logs), "request_id", "left")
             .join(relevant_positions(assessment_logs), "request_id", "left"))
    logs = request_logs.select("date", "databricks_request_id", "request", "response", "request_raw")
    rows = logs.join(rated.withColumnRenamed("request_id", "databricks_request_id"), "databricks_request_id")
    if request_details is not None:
        documents = request_details.select("date", "databricks_request_id", "retrieved_documents")
        rows = rows.join(documents, ["date", "databricks_request_id"], "left")
        context = _expected_context(F.col("retrieved_documents"), F.coalesce(F.col("positions"), F.array()))
    else:
        context = F.lit(None).cast("array<struct<doc_uri: string, content: string>>")
    expected_response = F.coalesce(F.col("suggested_output"),
                                   F.when(is_positive(F.col("rating")), F.col("response")))
    expectations = F.to_json(F.struct(expected_response.alias("expected_response"),
                                      context.alias("expected_retrieved_context")))
    tags = F.map_filter(F.create_map(F.lit("databricks_request_id"), F.col("databricks_request_id"),
                                     F.lit("rater"), F.col("rater"), F.lit("rating"), F.col("rating")),
                        lambda _, v: v.isNotNull())
    columns = {"request_id": F.col("databricks_request_id"), "date": F.col("date"),
               "inputs": _inputs(F.col("request_raw"), F.col("request")), "outputs": F.col("response"),
               "expectations": expectations, "tags": tags, "rater": F.col("rater"), "rating": F.col("rating"),
               "rated_at": F.col("rated_at")}
    return rows.select(*[columns[f.name].cast(f.dataType).alias(f.name) for f in EVAL_SET.fields])
