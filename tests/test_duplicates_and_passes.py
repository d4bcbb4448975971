"""The Spark side of a run on hand-made rows: duplicates collapse to one row per request id, each
pass classifies its rows with the rules per Arrow batch, every row lands in exactly one table,
and the passes' counts agree."""
import datetime as dt
import json

import pytest
from pyspark.sql.types import StringType, StructField, StructType

from pipelines.runs.writers import Discard
from pipelines.runs.passes import derive_outputs, find_repeated_ids, look_at_batch, output_rows
from pipelines.transforms.duplicates import KeptRows, collapse_duplicates
from pipelines.transforms.normalize import normalize_payload
from pipelines.transforms.quarantine import derive_quarantine
from pipelines.samples.sample_payloads import chat_completion, chat_request, feedback_request
from schemas.payload import GATEWAY_PAYLOAD
from tests.conftest import DAY, NOON, gateway_row

GOOD_REQUEST, GOOD_RESPONSE = chat_request("q?"), chat_completion("a.")


def classified(frame):
    """Each distinct row of a payload frame, classified (the quarantine pass's frame, which
    classifies every row)."""
    normalized = normalize_payload(frame)
    return derive_quarantine(collapse_duplicates(normalized, find_repeated_ids(normalized)))


def classify(gateway_payload, rows):
    return {r["databricks_request_id"] or f"<none:{i}>": (r["destination"], r["reason"], r["duplicates_collapsed"])
            for i, r in enumerate(classified(gateway_payload(rows)).collect())}


def _kept(frame):
    columns = ["databricks_request_id", "request_raw", "status_code", "duplicates_collapsed"]
    if "response_raw" in frame.columns:
        columns.insert(2, "response_raw")
    return sorted(map(tuple, frame.select(columns).collect()), key=str)


def test_duplicates_collapse_to_one_row_and_are_counted(gateway_payload):
    rows = [gateway_row("dup", GOOD_REQUEST, GOOD_RESPONSE) for _ in range(3)] + [gateway_row("one", GOOD_REQUEST, GOOD_RESPONSE)]
    assert classify(gateway_payload, rows) == {"dup": ("request_logs", None, 2), "one": ("request_logs", None, 0)}


def test_rows_without_an_id_are_each_kept_beside_collapsed_duplicates(gateway_payload):
    no_id = gateway_row(None, GOOD_REQUEST, GOOD_RESPONSE)
    rows = [no_id, no_id, gateway_row("dup", GOOD_REQUEST, GOOD_RESPONSE), gateway_row("dup", GOOD_REQUEST, GOOD_RESPONSE)]
    kept = sorted(classify(gateway_payload, rows).values(), key=str)
    assert kept == [("quarantine", "missing_request_id", 0), ("quarantine", "missing_request_id", 0),
                    ("request_logs", None, 1)]


def _request_logs_choice(gateway_payload, rows, repeated=None):
    kept = collapse_duplicates(normalize_payload(gateway_payload(rows)), repeated, by_response=True)
    return [json.loads(r["response_raw"]) if r["response_raw"] else None
            for r in kept.where("databricks_request_id = 'dup'").collect()]


def test_the_kept_row_is_the_same_whatever_the_input_order(gateway_payload):
    # equal but for their response: a row with a response first, then by its text
    a = gateway_row("dup", GOOD_REQUEST, chat_completion("first"))
    b = gateway_row("dup", GOOD_REQUEST, chat_completion("second"))
    c = gateway_row("dup", GOOD_REQUEST, None)
    picks = [_request_logs_choice(gateway_payload, order) for order in ([a, b, c], [c, b, a], [b, c, a])]
    assert picks == [[chat_completion("first")]] * 3


@pytest.mark.parametrize("preferred,other", [
    (gateway_row("dup", GOOD_REQUEST, None, when=NOON + dt.timedelta(hours=1)), gateway_row("dup", GOOD_REQUEST, GOOD_RESPONSE)),
    (gateway_row("dup", GOOD_REQUEST, None), gateway_row("dup", GOOD_REQUEST, GOOD_RESPONSE, request_time=None)),
    (gateway_row("dup", GOOD_REQUEST, None, status=200), gateway_row("dup", GOOD_REQUEST, GOOD_RESPONSE, status=500)),
    (gateway_row("dup", chat_request("a"), None), gateway_row("dup", chat_request("b"), GOOD_RESPONSE)),
], ids=["the latest", "a row with a time", "the smaller status", "by request"])
def test_the_order_reads_time_status_and_request_before_the_response(gateway_payload, preferred, other):
    kept = collapse_duplicates(normalize_payload(gateway_payload([other, preferred])), None, by_response=True).collect()
    millis = None if preferred["request_time"] is None else int(preferred["request_time"].timestamp() * 1000)
    assert [(r["request_raw"], r["response_raw"], r["status_code"], r["timestamp_ms"]) for r in kept] == [
        (preferred["request"], preferred["response"], preferred["status_code"], millis)]


def _rows_with_duplicates():
    rows = [gateway_row("dup", GOOD_REQUEST, chat_completion(text)) for text in ("x", "y", "z")]
    rows += [gateway_row("late", GOOD_REQUEST, GOOD_RESPONSE, when=NOON + dt.timedelta(hours=1)),
             gateway_row("late", GOOD_REQUEST, GOOD_RESPONSE, status=500),
             gateway_row("copy", GOOD_REQUEST, GOOD_RESPONSE), gateway_row("copy", GOOD_REQUEST, GOOD_RESPONSE),
             gateway_row("one", GOOD_REQUEST, GOOD_RESPONSE), gateway_row(None, GOOD_REQUEST, GOOD_RESPONSE),
             gateway_row(None, GOOD_REQUEST, GOOD_RESPONSE)]
    return rows


def test_kept_rows_gathered_once_listed_or_found_in_the_pass_are_the_same(gateway_payload):
    normalized = normalize_payload(gateway_payload(_rows_with_duplicates()))
    gathered = find_repeated_ids(normalized)
    assert isinstance(gathered, KeptRows) and gathered.ids == ["copy", "dup", "late"]
    expected = sorted([("copy", json.dumps(GOOD_REQUEST), json.dumps(GOOD_RESPONSE), 200, 1),
                       ("dup", json.dumps(GOOD_REQUEST), json.dumps(chat_completion("x")), 200, 2),
                       ("late", json.dumps(GOOD_REQUEST), json.dumps(GOOD_RESPONSE), 200, 1),
                       ("one", json.dumps(GOOD_REQUEST), json.dumps(GOOD_RESPONSE), 200, 0),
                       (None, json.dumps(GOOD_REQUEST), json.dumps(GOOD_RESPONSE), 200, 0),
                       (None, json.dumps(GOOD_REQUEST), json.dumps(GOOD_RESPONSE), 200, 0)], key=str)
    for repeated in (gathered, ["copy", "dup", "late"], None):
        assert _kept(collapse_duplicates(normalized, repeated, by_response=True)) == expected
    # a pass that reads no response keeps the same rows but for their response
    narrow = [row[:2] + row[3:] for row in expected]
    for repeated in (gathered, ["copy", "dup", "late"], None):
        assert _kept(collapse_duplicates(normalized.drop("response_raw"), repeated)) == narrow


def test_kept_rows_larger_than_the_bound_are_ranked_in_each_pass(gateway_payload, monkeypatch):
    normalized = normalize_payload(gateway_payload(_rows_with_duplicates()))
    monkeypatch.setattr("pipelines.runs.passes.MAX_KEPT_ROW_BYTES", 10)
    assert find_repeated_ids(normalized) == ["copy", "dup", "late"]
    monkeypatch.setattr("pipelines.runs.passes.MAX_LISTED_REPEATED_IDS", 2)
    found = find_repeated_ids(normalized)
    assert sorted(r[0] for r in found.collect()) == ["copy", "dup", "late"]


def test_one_look_at_a_batch_gives_its_dates_and_its_repeated_ids(gateway_payload):
    later = NOON + dt.timedelta(days=2)
    rows = [gateway_row("dup", GOOD_REQUEST, chat_completion(text)) for text in ("x", "y")]
    rows += [gateway_row("one", GOOD_REQUEST, GOOD_RESPONSE, when=later), gateway_row(None, GOOD_REQUEST, GOOD_RESPONSE)]
    dates, repeated = look_at_batch(normalize_payload(gateway_payload(rows)))
    assert dates == [DAY, later.date()] and repeated.ids == ["dup"]


def test_a_run_balances_when_duplicates_have_other_destinations(gateway_payload):
    # "fb" keeps its feedback row (the latest); "chat" keeps its feedback row too (equal times,
    # ordered by request body: '{"dataframe_records"...' before '{"messages"...'); "bad" keeps a
    # row that is not JSON. Each pass classifies the kept row the same way, so the run balances.
    feedback = feedback_request("r1", "a@b")
    rows = [gateway_row("fb", feedback, "{}", when=NOON + dt.timedelta(minutes=1)), gateway_row("fb", GOOD_REQUEST, None),
            gateway_row("chat", GOOD_REQUEST, GOOD_RESPONSE), gateway_row("chat", feedback, None),
            gateway_row("bad", "{broken", None), gateway_row("bad", "{broken", GOOD_RESPONSE)]
    for repeated in (None, ["bad", "chat", "fb"]):
        report = derive_outputs(normalize_payload(gateway_payload(rows)), Discard(), repeated=repeated)
        assert (report.feedback_rows, report.request_logs_rows, report.quarantined_rows,
                report.duplicates_collapsed) == (2, 0, 1, 3)
        assert report.ok, report.checks


def test_a_reason_the_catalogue_lacks_is_counted_so_that_the_run_fails_its_check(spark):
    from pipelines.runs import report as counts

    classified = spark.createDataFrame(
        [("quarantine", "request_not_json", 0), ("quarantine", "made_up", 2), ("request_logs", None, 0)],
        "destination string, reason string, duplicates_collapsed bigint")
    watched, seen = counts.observed(classified, "reasons", counts.quarantine_metrics())
    watched.write.format("noop").mode("overwrite").save()
    assert (seen.get["undeclared_reasons"], seen.get["quarantined_rows"], seen.get["rows_read"]) == (1, 2, 5)
    assert seen.get["quarantine_reasons:request_not_json"] == 1


@pytest.mark.parametrize("row,reason", [
    (gateway_row(None, GOOD_REQUEST, GOOD_RESPONSE), "missing_request_id"),
    (gateway_row("  ", GOOD_REQUEST, GOOD_RESPONSE), "missing_request_id"),
    (gateway_row("x", GOOD_REQUEST, GOOD_RESPONSE, request_time=None, request_date=None), "missing_timestamp"),
    (gateway_row("x", GOOD_REQUEST, GOOD_RESPONSE, status="abc"), "invalid_status_code"),
    (gateway_row("x", '{"messages": [{"role": "us', GOOD_RESPONSE), "request_not_json"),
    (gateway_row("x", feedback_request("r", "a"), "{}", status=500), "feedback_error_status"),
    (gateway_row("x", {"dataframe_records": [{"request_id": "r", "text_assessments": []}]}, "{}"),
     "feedback_without_assessments"),
    (gateway_row("x", feedback_request("r", "a"), "{}", request_date=DAY.replace(day=2)), "feedback_timestamp_outside_date"),
])
def test_quarantine_reasons_from_the_columns_spark_hands_the_rules(spark, row, reason):
    # the rules' own case table covers every reason; this one checks what reaches them from a
    # payload table (dates, times, a status given as text: a string column)
    schema = StructType([StructField("status_code", StringType()) if f.name == "status_code" else f
                         for f in GATEWAY_PAYLOAD.fields]) if isinstance(row["status_code"], str) else GATEWAY_PAYLOAD
    [found] = classified(spark.createDataFrame([row], schema)).collect()
    assert (found["destination"], found["reason"]) == ("quarantine", reason)


@pytest.mark.parametrize("row", [
    gateway_row("err", GOOD_REQUEST, {"error_code": "INTERNAL_ERROR"}, status=500),
    gateway_row("big", None, None, logging_error_codes=["MAX_REQUEST_SIZE_EXCEEDED"]),
    gateway_row("text", GOOD_REQUEST, "upstream timeout", status=504),
    gateway_row("hi", '"hi"', "[1, 2]"),
])
def test_requests_are_kept_whatever_their_status_or_body(gateway_payload, row):
    [(destination, reason, _)] = classify(gateway_payload, [row]).values()
    assert (destination, reason) == ("request_logs", None)


def test_quarantine_keeps_the_payload_row_but_its_response_and_a_readable_reason(gateway_payload):
    row = gateway_row(None, "{broken", GOOD_RESPONSE)
    normalized = normalize_payload(gateway_payload([row]))
    [q] = output_rows(collapse_duplicates(normalized, [])).get("quarantine").collect()
    raw = json.loads(q["payload_row"])
    # every column in the table's order, but the response body (the payload table keeps it)
    assert list(raw) == [name for name in GATEWAY_PAYLOAD.fieldNames() if name != "response"]
    assert raw["databricks_request_id"] is None and raw["request"] == "{broken"
    assert raw["requester"] == row["requester"]
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
