"""The synthetic payload generator: sizes, validity, determinism."""
from pyspark.sql import functions as F

from pipelines.samples import sample_payloads
from pipelines.samples.synthetic_payloads import ONE_MIB, TEN_MIB, BodySizes, body_size_bytes, synthetic_payload
from schemas.payload import LEGACY_PAYLOAD, PayloadGeneration


def test_body_sizes_follow_the_distribution_with_a_tail_at_the_limits(spark):
    sizes = spark.range(1_000_000).select(body_size_bytes(seed=3).alias("b"))
    stats = sizes.agg(
        F.percentile_approx("b", 0.5).alias("median"),
        F.avg(((F.col("b") >= 2048) & (F.col("b") <= 40 * 1024)).cast("int")).alias("typical"),
        F.sum(((F.col("b") > 0.9 * ONE_MIB) & (F.col("b") < ONE_MIB)).cast("int")).alias("near_1mib"),
        F.sum(((F.col("b") > 0.9 * TEN_MIB) & (F.col("b") < TEN_MIB)).cast("int")).alias("near_10mib"),
    ).first()
    assert 6 * 1024 < stats["median"] < 10 * 1024
    assert stats["typical"] > 0.9
    assert 50 < stats["near_1mib"] < 200 and 2 < stats["near_10mib"] < 30


def test_a_large_table_repeats_every_shape_with_valid_padded_bodies(spark):
    rows = 3 * 500
    small = sample_payloads.payload_frame(spark, sample_payloads.payload_rows(500, seed=4), PayloadGeneration.GATEWAY)
    big = synthetic_payload(spark, rows, seed=4, body_sizes=BodySizes.REALISTIC, distinct_rows=500).cache()
    try:
        assert big.count() == rows
        invalid = F.col("request").isNotNull() & F.try_parse_json("request").isNull()
        # padding never breaks a body: exactly the templates' invalid bodies (truncated on purpose) stay invalid
        assert big.where(invalid).count() == 3 * small.where(invalid).count()
        ids = big.where(F.col("databricks_request_id").isNotNull()).select("databricks_request_id")
        template_ids = small.where(F.col("databricks_request_id").isNotNull()).select("databricks_request_id")
        assert ids.distinct().count() == 3 * template_ids.distinct().count()
        sizes = big.select((F.length("request") + F.coalesce(F.length("response"), F.lit(0))).alias("b"))
        assert 5 * 1024 < sizes.agg(F.percentile_approx("b", 0.5)).first()[0] < 12 * 1024
        # deterministic from the seed
        again = synthetic_payload(spark, rows, seed=4, body_sizes=BodySizes.REALISTIC, distinct_rows=500)
        assert big.exceptAll(again).isEmpty()
    finally:
        big.unpersist()


def test_compact_sample_is_the_template_rows_in_either_generation(spark):
    frame = synthetic_payload(spark, 50, seed=9, generation=PayloadGeneration.LEGACY, body_sizes=BodySizes.COMPACT)
    assert frame.schema == LEGACY_PAYLOAD
    expected = sample_payloads.payload_frame(spark, sample_payloads.payload_rows(50, seed=9), PayloadGeneration.LEGACY)
    assert sorted(map(str, frame.collect())) == sorted(map(str, expected.collect()))
