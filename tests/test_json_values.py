"""The small column functions over open (VARIANT) parts of a body, on hand-made rows."""
from chispa import assert_column_equality
from pyspark.sql import functions as F

from pipelines.transforms.json_values import bind, content_text, join_texts


def test_bind_hands_the_value_to_the_function_once_computed(spark):
    df = spark.createDataFrame([("ab", "abab|2"), (None, None), ("", "|0")], "word string, expected string")
    doubled = bind(F.col("word"), lambda word: F.concat(word, word, F.lit("|"), F.length(word)))
    assert_column_equality(df.withColumn("got", doubled), "got", "expected")


def test_join_texts_skips_nulls_and_is_null_when_none_are_left(spark):
    df = spark.createDataFrame(
        [(["a", None, "b"], "a-b"), ([None], None), ([""], ""), ([], None), (None, None)],
        "texts array<string>, expected string")
    assert_column_equality(df.withColumn("got", join_texts(F.col("texts"), "-")), "got", "expected")


def test_content_text_of_a_string_a_list_of_parts_and_a_part(spark):
    df = spark.createDataFrame([
        ('"plain"', "plain"),
        ('[{"type": "text", "text": "a"}, {"type": "image_url"}, {"type": "text", "text": "b"}]', "a\nb"),
        ('{"type": "text", "text": "one part"}', "one part"),
        ('[{"type": "image_url"}]', None),
        ("7", None),
    ], "content string, expected string")
    got = content_text(F.parse_json(F.col("content")))
    assert_column_equality(df.withColumn("got", got), "got", "expected")
