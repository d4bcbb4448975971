"""Property-based tests of the rules, without Spark: whatever a payload row holds, the rules
finish, give each row one destination and a declared reason, and invent no value."""
from hypothesis import HealthCheck, given, settings

from pipelines.rules.classify import DESTINATIONS, PayloadRow, classify
from pipelines.rules.decode import read
from pipelines.rules.feedback import assessment_rows, feedback_records
from pipelines.rules.request import user_query
from pipelines.rules.response import response_fields
from schemas.bodies import RESPONSE_BODY, RequestBody
from schemas.reasons import QUARANTINE_REASONS
from schemas.shapes import ALL_REQUEST_SHAPES, ALL_RESPONSE_SHAPES, TRACE_FORMATS
from tests.hostile import composed_of, is_json, payload_rows, strict_json

DAY = 20_423


def _encoded(text: str | None) -> bytes | None:
    return None if text is None else text.encode("utf-8", errors="surrogatepass")


@settings(max_examples=2_000, deadline=None, derandomize=True, database=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.large_base_example])
@given(rows=payload_rows(huge=20_000))
def test_the_rules_classify_every_row_and_invent_nothing(rows):
    for row in rows:
        request_id = (row["databricks_request_id"] or "").strip() or None
        request = read(_encoded(row["request"]), RequestBody)
        found = classify(PayloadRow(request_id, True, row["status_code"], str(row["status_code"]), DAY, DAY), request)

        assert found.destination in DESTINATIONS
        assert (found.destination == "quarantine") == (found.reason is not None)
        assert found.reason is None or found.reason in QUARANTINE_REASONS
        if request_id is not None and row["request"] is not None:
            # never derived from invalid JSON; valid JSON is read
            assert (found.reason == "request_not_json") == (not is_json(row["request"]))
        if found.destination == "assessment_logs":
            derived = assessment_rows(feedback_records(request.value))
            assert len(derived) == found.assessment_count > 0 and all(r["request_id"] for r in derived)
        if found.destination != "request_logs":
            continue
        query = user_query(request)
        answer, trace = response_fields(read(_encoded(row["response"]), RESPONSE_BODY))
        assert query.shape in ALL_REQUEST_SHAPES and answer.shape in ALL_RESPONSE_SHAPES
        assert trace.format is None or trace.format in TRACE_FORMATS or trace.text is not None
        if query.text is not None:
            assert composed_of(query.text, row["request"])
        if answer.text is not None:
            assert composed_of(answer.text, row["response"])
        if trace.text is not None:
            strict_json(trace.text)
