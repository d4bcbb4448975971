"""Feedback rows: detection, both encodings, ratings, one row per assessment, and what is wrong
with a feedback row. No Spark."""
import json

import pytest

from pipelines.rules import feedback
from pipelines.rules.decode import read
from pipelines.samples.sample_payloads import feedback_request
from schemas.bodies import RequestBody


def body_of(body) -> RequestBody:
    return read(json.dumps(body).encode(), RequestBody).value


def rows_of(body):
    body = body_of(body)
    found = feedback.feedback_records(body)
    rows = feedback.assessment_rows(found)
    assert feedback.assessment_count(found) == len(rows)   # classifying counts the assessments without building them
    return feedback.is_feedback(body), rows, feedback.feedback_problem(found)


@pytest.mark.parametrize("encoded", [False, True], ids=["objects", "json-strings"])
def test_both_encodings_give_the_same_assessments(encoded):
    is_fb, rows, problem = rows_of(feedback_request("req-1", "ann@x.com", "positive", encoded=encoded, comment="good"))
    assert is_fb and problem is None
    assert rows == [
        {"request_id": "req-1", "step_id": None,
         "source": {"type": "human", "id": "ann@x.com", "tags": {"app": "review"}},
         "text_assessment": {"step_id": None, "free_text_comment": "good", "suggested_output": None,
                             "ratings": {"answer_correct": {"value": "positive", "double_value": None,
                                                            "rationale": "matches the docs"}}},
         "retrieval_assessment": None},
        {"request_id": "req-1", "step_id": "s1",
         "source": {"type": "human", "id": "ann@x.com", "tags": {"app": "review"}},
         "text_assessment": None,
         "retrieval_assessment": {"position": 0, "step_id": "s1", "free_text_comment": None,
                                  "ratings": {"groundedness": {"value": "positive", "double_value": None,
                                                               "rationale": None}}}},
    ]


@pytest.mark.parametrize("value,expected", [
    (True, ("true", None)), (False, ("false", None)), ("negative", ("negative", None)),
    (4, ("4", 4.0)), (0.25, ("0.25", 0.25)), ("0.5", ("0.5", None)), (None, (None, None)),
    ({"nested": 1}, (None, None)), ([1], (None, None)),
])
def test_rating_values(value, expected):
    _, rows, _ = rows_of(feedback_request("r", "a", value, retrieval=False))
    rating = rows[0]["text_assessment"]["ratings"]["answer_correct"]
    assert (rating["value"], rating["double_value"]) == expected


@pytest.mark.parametrize("raw,expected", [
    (b"1e308", ("1e308", 1e308)), (b"1e309", ("1e309", None)), (b"-0.0", ("-0.0", -0.0)),
    (b"1" * 5000, ("1" * 5000, None)),
])
def test_a_number_rating_keeps_its_text_and_is_a_double_within_range(raw, expected):
    body = (b'{"dataframe_records": [{"request_id": "r", "text_assessments": [{"ratings": {"x": ' + raw + b"}}]}]}")
    rating = feedback.assessment_rows(feedback.feedback_records(read(body, RequestBody).value))[0][
        "text_assessment"]["ratings"]["x"]
    assert (rating["value"], rating["double_value"]) == expected


@pytest.mark.parametrize("position,expected", [(0, 0), (2 ** 31 - 1, 2 ** 31 - 1), (2 ** 31, None), (-1, -1),
                                               (1.5, None), ("2", None)])
def test_a_retrieval_position_is_an_integer_within_32_bits(position, expected):
    body = {"dataframe_records": [{"request_id": "r", "retrieval_assessments": [{"position": position}]}]}
    assert rows_of(body)[1][0]["retrieval_assessment"]["position"] == expected


def test_every_record_and_every_assessment_becomes_a_row():
    body = {"dataframe_records": [
        {"request_id": "a", "step_id": "rec-step", "source": {"id": "x", "type": "human"},
         "text_assessments": [{"ratings": {"r": {"value": "positive"}}}, {"step_id": "own", "ratings": {}}]},
        {"request_id": "b", "source": {"id": "y", "type": "human"},
         "retrieval_assessments": [{"position": 0}, {"position": 1}, {"position": 2}]},
    ]}
    _, rows, problem = rows_of(body)
    assert problem is None
    assert [(r["request_id"], r["step_id"]) for r in rows] == [
        ("a", "rec-step"), ("a", "own"), ("b", None), ("b", None), ("b", None)]
    assert [r["retrieval_assessment"]["position"] for r in rows[2:]] == [0, 1, 2]


@pytest.mark.parametrize("body,problem", [
    ({"dataframe_records": [{"request_id": "a", "text_assessments": "[{not json"}]}, "feedback_not_decodable"),
    ({"dataframe_records": [{"request_id": "a", "text_assessments": 7}]}, "feedback_not_decodable"),
    ({"dataframe_records": [{"request_id": "a", "source": "nope", "text_assessments": []}]}, "feedback_not_decodable"),
    ({"dataframe_records": [{"request_id": "a", "text_assessments": []}]}, "feedback_without_assessments"),
    ({"dataframe_records": [{"text_assessments": [{"ratings": {}}]}]}, "feedback_missing_request_id"),
    ({"dataframe_records": [{"request_id": "  ", "text_assessments": [{"ratings": {}}]}]}, "feedback_missing_request_id"),
    ({"dataframe_records": [{"request_id": "a", "text_assessments": [{}]}, {"text_assessments": []}]}, None),
])
def test_feedback_problems(body, problem):
    is_fb, _, found = rows_of(body)
    assert is_fb and found == problem


@pytest.mark.parametrize("body", [
    {"dataframe_records": [{"query": "not feedback"}]},
    {"messages": [{"role": "user", "content": "hi"}]},
    {"dataframe_records": [{"request_id": "a", "text_assessments": None}]},
    {"text_assessments": [{"ratings": {}}]},   # only records of dataframe_records are feedback
])
def test_not_feedback(body):
    assert feedback.is_feedback(body_of(body)) is False


def test_a_single_assessment_object_counts_as_a_list_of_one():
    body = {"dataframe_records": [{"request_id": "a", "text_assessments": json.dumps({"ratings": {"r": {"value": 1}}})}]}
    _, rows, problem = rows_of(body)
    assert problem is None and len(rows) == 1


def test_an_assessment_that_is_not_an_object_is_a_row_of_nulls():
    _, rows, _ = rows_of({"dataframe_records": [{"request_id": "a", "source": {"id": "x"}, "text_assessments": [5]}]})
    assert rows == [{"request_id": "a", "step_id": None, "source": {"type": None, "id": "x", "tags": None},
                     "retrieval_assessment": None,
                     "text_assessment": {"step_id": None, "ratings": None, "free_text_comment": None,
                                         "suggested_output": None}}]


def test_a_tag_of_another_type_is_null_on_its_own():
    body = {"dataframe_records": [{"request_id": "a", "source": {"id": "x", "tags": {"app": "review", "n": 3}},
                                   "text_assessments": [{}]}]}
    assert rows_of(body)[1][0]["source"]["tags"] == {"app": "review", "n": None}
