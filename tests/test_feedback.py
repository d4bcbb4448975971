"""Feedback rows: detection, both encodings, ratings, one row per assessment."""
import json

import pytest
from pyspark.sql import functions as F

from pipelines.transforms import feedback, request
from pipelines.samples.sample_payloads import feedback_request
from tests.conftest import as_text


def items_of(spark, body):
    df = spark.createDataFrame([(as_text(body),)], "raw string").withColumn("body", request.parse_request(F.col("raw")))
    count = feedback.assessment_count(F.col("body"))
    row = df.select(
        feedback.is_feedback(F.col("body")).alias("is_feedback"),
        feedback.assessment_items(F.col("body")).alias("items"),
        count.alias("count"),
        feedback.feedback_problem(F.col("body"), count).alias("problem"),
    ).first()
    items = [item.asDict(recursive=True) for item in (row["items"] or [])]
    if row["is_feedback"]:   # classifying counts the assessments without building them
        assert row["count"] == len(items)
    return row["is_feedback"], items, row["problem"]


@pytest.mark.parametrize("encoded", [False, True], ids=["objects", "json-strings"])
def test_both_encodings_give_the_same_assessments(spark, encoded):
    is_fb, items, problem = items_of(spark, feedback_request("req-1", "ann@x.com", "positive", encoded=encoded,
                                                             comment="good"))
    assert is_fb and problem is None
    text, retrieval = items
    assert text == {
        "request_id": "req-1", "step_id": None,
        "source": {"type": "human", "id": "ann@x.com", "tags": {"app": "review"}},
        "text_assessment": {"step_id": None, "free_text_comment": "good", "suggested_output": None,
                            "ratings": {"answer_correct": {"value": "positive", "double_value": None,
                                                           "rationale": "matches the docs"}}},
        "retrieval_assessment": None,
    }
    assert retrieval["step_id"] == "s1"
    assert retrieval["retrieval_assessment"]["position"] == 0
    assert retrieval["retrieval_assessment"]["ratings"]["groundedness"]["value"] == "positive"


@pytest.mark.parametrize("value,expected", [
    (True, ("true", None)), (False, ("false", None)), ("negative", ("negative", None)),
    (4, ("4", 4.0)), (0.25, ("0.25", 0.25)), ("0.5", ("0.5", None)),
])
def test_rating_values(spark, value, expected):
    _, items, _ = items_of(spark, feedback_request("r", "a", value, retrieval=False))
    rating = items[0]["text_assessment"]["ratings"]["answer_correct"]
    assert (rating["value"], rating["double_value"]) == expected


def test_every_record_and_every_assessment_becomes_a_row(spark):
    body = {"dataframe_records": [
        {"request_id": "a", "step_id": "rec-step", "source": {"id": "x", "type": "human"},
         "text_assessments": [{"ratings": {"r": {"value": "positive"}}}, {"step_id": "own", "ratings": {}}]},
        {"request_id": "b", "source": {"id": "y", "type": "human"},
         "retrieval_assessments": [{"position": 0}, {"position": 1}, {"position": 2}]},
    ]}
    _, items, problem = items_of(spark, body)
    assert problem is None
    assert [(i["request_id"], i["step_id"]) for i in items] == [
        ("a", "rec-step"), ("a", "own"), ("b", None), ("b", None), ("b", None)]
    assert [i["retrieval_assessment"]["position"] for i in items[2:]] == [0, 1, 2]


@pytest.mark.parametrize("body,problem", [
    ({"dataframe_records": [{"request_id": "a", "text_assessments": "[{not json"}]}, "feedback_not_decodable"),
    ({"dataframe_records": [{"request_id": "a", "text_assessments": 7}]}, "feedback_not_decodable"),
    ({"dataframe_records": [{"request_id": "a", "source": "nope", "text_assessments": []}]}, "feedback_not_decodable"),
    ({"dataframe_records": [{"request_id": "a", "text_assessments": []}]}, "feedback_without_assessments"),
    ({"dataframe_records": [{"text_assessments": [{"ratings": {}}]}]}, "feedback_missing_request_id"),
])
def test_feedback_problems(spark, body, problem):
    is_fb, _, got = items_of(spark, body)
    assert is_fb and got == problem


@pytest.mark.parametrize("body", [
    {"dataframe_records": [{"query": "not feedback"}]},
    {"messages": [{"role": "user", "content": "hi"}]},
    {"dataframe_records": [{"request_id": "a", "text_assessments": None}]},
])
def test_not_feedback(spark, body):
    assert items_of(spark, body)[0] is False


def test_single_assessment_object_counts_as_a_list_of_one(spark):
    body = {"dataframe_records": [{"request_id": "a", "text_assessments": json.dumps({"ratings": {"r": {"value": 1}}})}]}
    _, items, problem = items_of(spark, body)
    assert problem is None and len(items) == 1
