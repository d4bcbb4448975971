"""Every distinct payload row gets exactly one destination, and a quarantined row one declared
reason. No Spark: each case is a row with the expected destination and reason beside it."""
import json

import pytest

from pipelines.rules import classify as rules
from pipelines.rules.classify import PayloadRow, classify
from pipelines.rules.decode import read
from pipelines.samples.sample_payloads import chat_request, feedback_request
from schemas.bodies import RequestBody
from schemas.reasons import QUARANTINE_REASONS, reason_detail

DAY = 20_423    # 2025-12-01 in days since 1970-01-01
ROW = PayloadRow("req-1", True, 200, "200", DAY, DAY)
CHAT = chat_request("q?")
FEEDBACK = feedback_request("r", "a")


def _replace(changes) -> PayloadRow:
    fields = ("request_id", "has_time", "status", "status_raw", "day", "date")
    return PayloadRow(*(changes.get(name, getattr(ROW, name)) for name in fields))


def classified(payload_row: PayloadRow, body):
    raw = None if body is None else body.encode() if isinstance(body, str) else json.dumps(body).encode()
    found = classify(payload_row, read(raw, RequestBody))
    return found.destination, found.reason


CASES = [
    ("a request", ROW, CHAT, ("request_logs", None)),
    ("a request of any status", _replace({"status": 500, "status_raw": "500"}), CHAT, ("request_logs", None)),
    ("a request whose body was not logged", ROW, None, ("request_logs", None)),
    ("a request whose body is JSON of another shape", ROW, "[1, 2]", ("request_logs", None)),
    ("feedback", ROW, FEEDBACK, ("assessment_logs", None)),
    ("no request id", _replace({"request_id": None}), CHAT, ("quarantine", "missing_request_id")),
    ("no request time", _replace({"has_time": False, "day": None}), CHAT, ("quarantine", "missing_timestamp")),
    ("a status that is not an integer", _replace({"status": None, "status_raw": "abc"}), CHAT,
     ("quarantine", "invalid_status_code")),
    ("no status at all is fine", _replace({"status": None, "status_raw": None}), CHAT, ("request_logs", None)),
    ("a request that is not JSON", ROW, '{"messages": [{"role": "us', ("quarantine", "request_not_json")),
    ("an empty request body is not JSON", ROW, "", ("quarantine", "request_not_json")),
    ("feedback the feedback model rejected", _replace({"status": 500, "status_raw": "500"}), FEEDBACK,
     ("quarantine", "feedback_error_status")),
    ("feedback without assessments", ROW, {"dataframe_records": [{"request_id": "r", "text_assessments": []}]},
     ("quarantine", "feedback_without_assessments")),
    ("feedback that cannot be decoded", ROW, {"dataframe_records": [{"request_id": "r", "text_assessments": 7}]},
     ("quarantine", "feedback_not_decodable")),
    ("feedback rating no request", ROW, {"dataframe_records": [{"text_assessments": [{}]}]},
     ("quarantine", "feedback_missing_request_id")),
    ("feedback on another day than its date", _replace({"date": DAY + 1}), FEEDBACK,
     ("quarantine", "feedback_timestamp_outside_date")),
    ("a basic reason comes before a feedback reason", _replace({"request_id": None, "status": 500}), FEEDBACK,
     ("quarantine", "missing_request_id")),
]


@pytest.mark.parametrize("name,payload_row,body,expected", CASES, ids=[c[0] for c in CASES])
def test_destination_and_reason(name, payload_row, body, expected):
    assert classified(payload_row, body) == expected


def test_every_reason_a_rule_returns_is_declared():
    returned = {case[3][1] for case in CASES} - {None}
    assert returned == set(QUARANTINE_REASONS)   # the cases above reach every declared reason
    assert all(reason_detail(code) for code in returned)


def test_an_undeclared_reason_is_named_as_a_bug_in_its_detail():
    # the run's `reasons_declared` check fails on it (tests/test_duplicates_and_passes.py)
    assert reason_detail("not_a_declared_reason") == (
        "Undeclared reason 'not_a_declared_reason': report it as a bug of inference-logs.")


def test_a_feedback_row_counts_its_assessments():
    found = classify(ROW, read(json.dumps(FEEDBACK).encode(), RequestBody))
    assert (found.is_feedback, found.assessment_count) == (True, 2)
    assert classify(ROW, read(json.dumps(CHAT).encode(), RequestBody)).assessment_count == 0


def test_destinations_are_the_three_outputs():
    assert rules.DESTINATIONS == ("request_logs", "assessment_logs", "quarantine")
