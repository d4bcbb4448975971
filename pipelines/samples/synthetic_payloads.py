"""Payload tables of any size with realistic body sizes (benchmark and demo data).

Distinct rows from :mod:`pipelines.sample_payloads` (every body shape, trace format, feedback
encoding and kind of bad row) are repeated natively in Spark up to any row count, each copy with
its own request id, and padded to a body size drawn per row from a log-normal distribution
(median 8 KiB, most rows 2 to 40 KiB) with a tail at the logging limits (1 row in 10,000 near
1 MiB, 1 in 100,000 near 10 MiB). The padding is an array of pseudo-random hex strings placed
inside the trace (where an agent's bytes are), else at the top of the response or request object,
so bodies stay valid JSON and compress like real ones. Deterministic from the seed, whatever the
partitioning.
"""
from __future__ import annotations

import math

from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql.types import LongType, StructField, StructType

from pipelines.config import BodySizes
from pipelines.samples import sample_payloads
from schemas.payload import GATEWAY_PAYLOAD, LEGACY_PAYLOAD, PayloadGeneration

#: Distinct rows repeated to make a large table.
TEMPLATE_ROWS = 2000
MEDIAN_BODY_BYTES = 8 * 1024
SIGMA = 0.8                     # exp(ln(8 KiB) +- 2 sigma) = 1.6 KiB .. 40 KiB
ONE_MIB, TEN_MIB = 1 << 20, 10 << 20
TEN_MIB_SHARE, ONE_MIB_SHARE = 1e-5, 1e-4
HEX_ITEM_BYTES = 68             # '"' + 64 hex digits + '", '


def _uniform(seed: int, salt: str) -> Column:
    """A uniform number in [0, 1) from the row id: the same for a row in every run."""
    return F.pmod(F.xxhash64(F.lit(seed), F.lit(salt), F.col("id")), F.lit(1 << 31)) / float(1 << 31)


def body_size_bytes(seed: int) -> Column:
    """Target size of a row's request + response, in bytes."""
    u1 = F.greatest(_uniform(seed, "u1"), F.lit(1e-12))
    normal = F.sqrt(-2.0 * F.ln(u1)) * F.cos(2 * math.pi * _uniform(seed, "u2"))
    lognormal = F.exp(F.lit(math.log(MEDIAN_BODY_BYTES)) + SIGMA * normal)
    tail, near = _uniform(seed, "tail"), 0.95 + 0.05 * _uniform(seed, "near")
    size = (F.when(tail < TEN_MIB_SHARE, near * (TEN_MIB - 4096))
            .when(tail < TEN_MIB_SHARE + ONE_MIB_SHARE, near * (ONE_MIB - 4096))
            .otherwise(lognormal))
    return size.cast(LongType())


def _padding(items: Column) -> Column:
    hexes = F.transform(F.sequence(F.lit(1), F.greatest(items, F.lit(1)).cast("int")),
                        lambda i: F.concat(F.lit('"'), F.sha2(F.concat_ws(":", F.col("id").cast("string"), i.cast("string")), 256), F.lit('"')))
    return F.concat(F.lit('"padding": ['), F.array_join(hexes, ", "), F.lit("]"))


def _pad_bodies(df: DataFrame, seed: int) -> DataFrame:
    current = F.coalesce(F.length("request"), F.lit(0)) + F.coalesce(F.length("response"), F.lit(0))
    items = F.floor((body_size_bytes(seed) - current) / HEX_ITEM_BYTES)
    pad = _padding(F.col("pad_items"))
    trace_key = F.lit('"trace": {"')
    response = (
        F.when(F.col("pad_items") <= 0, F.col("response"))
        .when(F.col("response").contains('"trace": {"'), F.replace("response", trace_key, F.concat(F.lit('"trace": {'), pad, F.lit(', "'))))
        .when(F.col("response").startswith('{"'), F.concat(F.lit("{"), pad, F.lit(", "), F.expr("substring(response, 2)")))
        .otherwise(F.col("response"))
    )
    pads_request = (F.col("pad_items") > 0) & ~F.coalesce(F.col("response").startswith('{"') | F.col("response").contains('"trace": {"'), F.lit(False))
    request = (
        F.when(pads_request & F.col("request").startswith('{"'), F.concat(F.lit("{"), pad, F.lit(", "), F.expr("substring(request, 2)")))
        .otherwise(F.col("request"))
    )
    return (df.withColumn("pad_items", items)
              .withColumn("response", response)
              .withColumn("request", request)
              .drop("pad_items"))


def synthetic_payload(spark: SparkSession, rows: int, seed: int = 7,
                      generation: PayloadGeneration = PayloadGeneration.GATEWAY,
                      body_sizes: BodySizes = BodySizes.REALISTIC, distinct_rows: int = TEMPLATE_ROWS) -> DataFrame:
    """A payload frame of ``rows`` rows of one generation (lazy: write it to a Delta table),
    repeating ``distinct_rows`` generated rows."""
    templates = sample_payloads.payload_rows(min(rows, distinct_rows), seed=seed)
    if rows <= len(templates) and body_sizes is BodySizes.COMPACT:
        return sample_payloads.payload_frame(spark, templates, generation)
    schema = LEGACY_PAYLOAD if generation is PayloadGeneration.LEGACY else GATEWAY_PAYLOAD
    template_frame = spark.createDataFrame(
        [{**sample_payloads.to_generation(row, generation), "template_index": i} for i, row in enumerate(templates)],
        StructType([*schema.fields, StructField("template_index", LongType())]),
    )
    copies = spark.range(rows).withColumn("template_index", F.col("id") % len(templates))
    expanded = copies.join(F.broadcast(template_frame), "template_index")
    copy_number = F.floor(F.col("id") / len(templates))
    expanded = expanded.withColumn(
        "databricks_request_id",
        F.when(copy_number == 0, F.col("databricks_request_id"))
        .otherwise(F.concat(F.col("databricks_request_id"), F.lit("-"), copy_number.cast("string"))),
    )
    if body_sizes is BodySizes.REALISTIC:
        expanded = _pad_bodies(expanded, seed)
    return expanded.select(*schema.fieldNames())
