"""The small column functions over open (VARIANT) parts of a body, on hand-made rows."""
from chispa import assert_column_equality
from pyspark.sql import functions as F

from pipelines.transforms.json_values import CONTENT, SCALAR, STRINGS, bind, content_text, join_texts, kind, text_of


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


def test_text_of_reads_a_value_by_its_kind_as_content_strings_or_a_string_only(spark):
    values = ['"s"', '["a", 1, "b"]', '[{"text": "p"}, "q"]', '{"text": "one"}', "true", "null"]
    # content: a list's parts are objects with text or strings (a number is skipped); strings: a
    # list's strings only; a string only: nothing but a string
    expected = {CONTENT: ["s", "a\nb", "p\nq", "one", None, None],
                STRINGS: ["s", "a\nb", "q", None, None, None],
                SCALAR: ["s", None, None, None, None, None]}
    df = spark.createDataFrame(list(enumerate(values)), "i int, raw string").withColumn("v", F.parse_json("raw"))
    df = df.withColumn("k", kind(F.col("v")))
    rows = df.select("i", *[text_of(F.col("v"), F.col("k"), how).alias(how) for how in expected]).orderBy("i").collect()
    assert {how: [row[how] for row in rows] for how in expected} == expected
