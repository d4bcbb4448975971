"""Every row gets exactly one destination: duplicates collapse, bad rows get a reason."""
import datetime as dt
import json

import pytest

from pipelines.runs.outputs import Discard, decide_duplicates, derive_outputs, look_at_batch
from pipelines.transforms.classify import KeptRows
from pipelines.transforms.derive import classify_payload, classify_rows, quarantine, request_logs
from pipelines.transforms.normalize import normalize_payload
from pipelines.samples.sample_payloads import chat_completion, chat_request, feedback_request
from schemas.payload import GATEWAY_PAYLOAD
from tests.conftest import DAY, NOON, gateway_row

GOOD_REQUEST, GOOD_RESPONSE = chat_request("q?"), chat_completion("a.")


def classify(gateway_payload, rows):
    return {r["databricks_request_id"] or f"<none:{i}>": (r["destination"], r["reason"], r["duplicates_collapsed"])
            for i, r in enumerate(classify_payload(gateway_payload(rows)).collect())}


def test_duplicates_collapse_to_one_row_and_are_counted(gateway_payload):
    rows = [gateway_row("dup", GOOD_REQUEST, GOOD_RESPONSE) for _ in range(3)] + [gateway_row("one", GOOD_REQUEST, GOOD_RESPONSE)]
    assert classify(gateway_payload, rows) == {"dup": ("request_logs", None, 2), "one": ("request_logs", None, 0)}


def test_rows_without_an_id_are_each_kept_beside_collapsed_duplicates(gateway_payload):
    no_id = gateway_row(None, GOOD_REQUEST, GOOD_RESPONSE)
    rows = [no_id, no_id, gateway_row("dup", GOOD_REQUEST, GOOD_RESPONSE), gateway_row("dup", GOOD_REQUEST, GOOD_RESPONSE)]
    kept = sorted(classify(gateway_payload, rows).values(), key=str)
    assert kept == [("quarantine", "missing_request_id", 0), ("quarantine", "missing_request_id", 0),
                    ("request_logs", None, 1)]


def test_duplicate_choice_is_deterministic_whatever_the_input_order(gateway_payload):
    a = gateway_row("dup", GOOD_REQUEST, chat_completion("first"))
    b = gateway_row("dup", GOOD_REQUEST, chat_completion("second"))
    c = gateway_row("dup", GOOD_REQUEST, None)
    picks = {request_logs(classify_payload(gateway_payload(order))).first()["response"]
             for order in ([a, b, c], [c, b, a], [b, c, a])}
    assert picks == {"first"}


def test_listed_repeated_ids_give_the_same_rows_as_finding_them(gateway_payload):
    rows = [gateway_row("dup", GOOD_REQUEST, chat_completion(text)) for text in ("x", "y", "z")]
    rows += [gateway_row("one", GOOD_REQUEST, GOOD_RESPONSE), gateway_row(None, GOOD_REQUEST, GOOD_RESPONSE)]
    found = classify_payload(gateway_payload(rows))
    listed = classify_payload(gateway_payload(rows), repeated=["dup"])
    columns = ["databricks_request_id", "response_raw", "duplicates_collapsed", "destination"]
    assert sorted(map(tuple, found.select(columns).collect()), key=str) == \
        sorted(map(tuple, listed.select(columns).collect()), key=str)
    assert classify_payload(gateway_payload(rows[3:]), repeated=[]).count() == 2


def _kept(frame):
    columns = ["databricks_request_id", "response_raw", "status_code", "duplicates_collapsed", "destination"]
    return sorted(map(tuple, frame.select(columns).collect()), key=str)


def test_kept_rows_decided_once_give_the_same_rows_as_ranking_them_in_each_pass(gateway_payload):
    rows = [gateway_row("dup", GOOD_REQUEST, chat_completion(text)) for text in ("x", "y", "z")]
    rows += [gateway_row("late", GOOD_REQUEST, GOOD_RESPONSE, when=NOON + dt.timedelta(hours=1)),
             gateway_row("late", GOOD_REQUEST, GOOD_RESPONSE, status=500),
             gateway_row("one", GOOD_REQUEST, GOOD_RESPONSE), gateway_row(None, GOOD_REQUEST, GOOD_RESPONSE),
             gateway_row(None, GOOD_REQUEST, GOOD_RESPONSE)]
    normalized = normalize_payload(gateway_payload(rows))
    decided = decide_duplicates(normalized)
    assert isinstance(decided, KeptRows) and decided.ranked == []
    assert sorted(r[0] for r in decided.kept.collect()) == ["dup", "late"]
    expected = [("dup", json.dumps(chat_completion("x")), 200, 2, "request_logs"),
                ("late", json.dumps(GOOD_RESPONSE), 200, 1, "request_logs"),
                ("one", json.dumps(GOOD_RESPONSE), 200, 0, "request_logs")]
    no_id = (None, json.dumps(GOOD_RESPONSE), 200, 0, "quarantine")
    assert _kept(classify_rows(normalized, decided)) == sorted(expected + [no_id, no_id], key=str)
    assert _kept(classify_rows(normalized, decided)) == _kept(classify_rows(normalized))


def test_one_look_at_a_batch_gives_its_dates_and_the_same_duplicate_choice(gateway_payload, monkeypatch):
    later = NOON + dt.timedelta(days=2)
    rows = [gateway_row("dup", GOOD_REQUEST, chat_completion(text)) for text in ("x", "y")]
    rows += [gateway_row("one", GOOD_REQUEST, GOOD_RESPONSE, when=later), gateway_row(None, GOOD_REQUEST, GOOD_RESPONSE)]
    normalized = normalize_payload(gateway_payload(rows))
    dates, decided = look_at_batch(normalized)
    assert dates == [DAY, later.date()]
    assert sorted(r[0] for r in decided.kept.collect()) == ["dup"]
    assert _kept(classify_rows(normalized, decided)) == _kept(classify_rows(normalized, decide_duplicates(normalized)))
    # more repeated ids than are listed: the frame that finds them, and the dates all the same
    monkeypatch.setattr("pipelines.runs.outputs.MAX_LISTED_REPEATED_IDS", 0)
    dates, found = look_at_batch(normalized)
    assert dates == [DAY, later.date()] and [r[0] for r in found.collect()] == ["dup"]


def test_identical_copies_of_a_kept_row_are_ranked_and_kept_once(gateway_payload):
    copy = gateway_row("copy", GOOD_REQUEST, GOOD_RESPONSE)
    rows = [copy, copy, copy, gateway_row("copy", GOOD_REQUEST, None),
            gateway_row("other", GOOD_REQUEST, chat_completion("a")), gateway_row("other", GOOD_REQUEST, None)]
    normalized = normalize_payload(gateway_payload(rows))
    decided = decide_duplicates(normalized)
    assert decided.ranked == ["copy"] and [r[0] for r in decided.kept.collect()] == ["other"]
    assert _kept(classify_rows(normalized, decided)) == [
        ("copy", json.dumps(GOOD_RESPONSE), 200, 3, "request_logs"),
        ("other", json.dumps(chat_completion("a")), 200, 1, "request_logs")]


def test_a_run_with_decided_duplicates_balances_and_filters_feedback_after_the_choice(gateway_payload):
    # the assessment pass filters on the request body before the kept row is joined: the choice
    # must not change with it ("fb" keeps its feedback row, "chat" its chat row over a feedback one)
    feedback = feedback_request("r1", "a@b")
    rows = [gateway_row("fb", feedback, "{}"), gateway_row("fb", GOOD_REQUEST, None),
            gateway_row("chat", GOOD_REQUEST, GOOD_RESPONSE), gateway_row("chat", feedback, None)]
    report = derive_outputs(normalize_payload(gateway_payload(rows)), Discard())
    assert (report.feedback_rows, report.request_logs_rows, report.duplicates_collapsed) == (1, 1, 2)
    assert report.ok, report.checks


def _narrow_kept(frame):
    columns = ["databricks_request_id", "request_raw", "status_code", "duplicates_collapsed", "destination"]
    return sorted(map(tuple, frame.select(columns).collect()), key=str)


def test_a_pass_without_responses_keeps_the_rows_the_full_digest_keeps(gateway_payload):
    # "fb": its kept row is told apart without the response; "copy": identical copies; "other":
    # a chat row kept over feedback. "same" (two rows equal but for the response) needs the response.
    feedback, other_feedback = feedback_request("r1", "a@b"), feedback_request("r2", "c@d")
    copy = gateway_row("copy", feedback, "{}")
    rows = [gateway_row("fb", feedback, "{}"), gateway_row("fb", other_feedback, None), copy, copy,
            gateway_row("other", GOOD_REQUEST, GOOD_RESPONSE), gateway_row("other", feedback, None),
            gateway_row("one", feedback, "{}")]
    same = [gateway_row("same", feedback, chat_completion("x")), gateway_row("same", feedback, chat_completion("y")),
            gateway_row("same", other_feedback, None)]
    for payload, narrow_ranked in ((rows, ["copy"]), (rows + same, ["copy", "same"])):
        normalized = normalize_payload(gateway_payload(payload))
        decided = decide_duplicates(normalized)
        assert decided.narrow_ranked == narrow_ranked
        narrow = classify_rows(normalized, decided, feedback_only=True)
        full = classify_rows(normalized, decided).where("request_raw LIKE '%assessments%'")
        assert _narrow_kept(narrow) == _narrow_kept(full)
    normalized = normalize_payload(gateway_payload([r for r in rows if r is not copy]))
    decided = decide_duplicates(normalized)
    narrow = classify_rows(normalized, decided, feedback_only=True)
    assert decided.narrow_ranked == [] and "response_raw" not in narrow.columns
    assert _narrow_kept(narrow) == _narrow_kept(classify_rows(normalized, decided).where("request_raw LIKE '%assessments%'"))
    assert sorted((r[0], r[3], r[4]) for r in _narrow_kept(narrow)) == [
        ("fb", 1, "assessment_logs"), ("one", 0, "assessment_logs")]


@pytest.mark.parametrize("row,reason", [
    (gateway_row(None, GOOD_REQUEST, GOOD_RESPONSE), "missing_request_id"),
    (gateway_row("  ", GOOD_REQUEST, GOOD_RESPONSE), "missing_request_id"),
    (gateway_row("x", GOOD_REQUEST, GOOD_RESPONSE, request_time=None, request_date=None), "missing_timestamp"),
    (gateway_row("x", '{"messages": [{"role": "us', GOOD_RESPONSE), "request_not_json"),
    (gateway_row("x", feedback_request("r", "a"), "{}", status=500), "feedback_error_status"),
    (gateway_row("x", {"dataframe_records": [{"request_id": "r", "text_assessments": []}]}, "{}"),
     "feedback_without_assessments"),
    (gateway_row("x", feedback_request("r", "a"), "{}", request_date=DAY.replace(day=2)), "feedback_timestamp_outside_date"),
])
def test_quarantine_reasons(gateway_payload, row, reason):
    [(destination, got, _)] = classify(gateway_payload, [row]).values()
    assert (destination, got) == ("quarantine", reason)


@pytest.mark.parametrize("row", [
    gateway_row("err", GOOD_REQUEST, {"error_code": "INTERNAL_ERROR"}, status=500),
    gateway_row("big", None, None, logging_error_codes=["MAX_REQUEST_SIZE_EXCEEDED"]),
    gateway_row("text", GOOD_REQUEST, "upstream timeout", status=504),
    gateway_row("hi", '"hi"', "[1, 2]"),
])
def test_requests_are_kept_whatever_their_status_or_body(gateway_payload, row):
    [(destination, reason, _)] = classify(gateway_payload, [row]).values()
    assert (destination, reason) == ("request_logs", None)


def test_quarantine_keeps_the_raw_row_and_a_readable_reason(gateway_payload):
    row = gateway_row(None, "{broken", GOOD_RESPONSE)
    q = quarantine(classify_payload(gateway_payload([row]))).first()
    raw = json.loads(q["payload_row"])
    assert list(raw) == GATEWAY_PAYLOAD.fieldNames()   # every column, in the table's order
    assert raw["databricks_request_id"] is None and raw["request"] == "{broken"
    assert raw["response"] == row["response"] and raw["requester"] == row["requester"]
    assert q["reason"] == "missing_request_id" and "databricks_request_id" in q["reason_detail"]
    assert q["date"] == NOON.date()


def test_the_report_names_the_dates_read_and_leaves_out_null_dates(gateway_payload):
    next_day = NOON + dt.timedelta(days=1)
    rows = [gateway_row("a", GOOD_REQUEST, GOOD_RESPONSE), gateway_row("b", GOOD_REQUEST, GOOD_RESPONSE, when=next_day),
            gateway_row("c", "{broken", GOOD_RESPONSE, when=next_day),
            gateway_row("d", GOOD_REQUEST, GOOD_RESPONSE, request_time=None, request_date=None)]
    report = derive_outputs(normalize_payload(gateway_payload(rows)), Discard())
    assert report.dates == [DAY, next_day.date()]
    assert report.as_dict()["dates"] == [DAY.isoformat(), next_day.date().isoformat()]


def test_the_assessment_pass_finds_feedback_whose_keys_are_written_with_escapes(gateway_payload):
    # the pass parses only bodies that may hold feedback; "text\u005fassessments" is that key too
    plain = json.dumps(feedback_request("r1", "a@b", retrieval=False))
    escaped = plain.replace('"text_assessments"', '"text\\u005fassessments"')
    assert escaped != plain and json.loads(escaped) == json.loads(plain)
    rows = [gateway_row("plain", plain, "{}"), gateway_row("escaped", escaped, "{}"),
            gateway_row("chat", GOOD_REQUEST, GOOD_RESPONSE)]
    report = derive_outputs(normalize_payload(gateway_payload(rows)), Discard())
    assert (report.feedback_rows, report.assessment_rows, report.request_logs_rows) == (2, 2, 1)
    assert report.ok, report.checks
