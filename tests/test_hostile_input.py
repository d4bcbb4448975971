"""Property-based tests through the passes: whatever a payload table holds, the passes finish,
every row lands in exactly one table, and no value is invented (tests/hostile.py; the rules
alone run thousands more examples in tests/rules/test_hostile_rules.py)."""
import json

import pytest
from hypothesis import HealthCheck, given, settings

from pipelines.runs.passes import output_rows
from pipelines.samples import sample_payloads as sp
from pipelines.transforms.duplicates import collapse_duplicates
from pipelines.transforms.normalize import normalize_payload
from pipelines.transforms.quarantine import derive_quarantine
from pipelines.transforms.request_logs import derive_request_logs, request_log_rows
from schemas.bodies import DECODER_LIMITS
from schemas.payload import GATEWAY_PAYLOAD
from tests.conftest import gateway_row
from tests.hostile import composed_of, is_json, payload_rows, strict_json


def _derived(spark, rows):
    """Every distinct row classified, and the request-logs rows, in one Spark job."""
    distinct = collapse_duplicates(normalize_payload(spark.createDataFrame(rows, GATEWAY_PAYLOAD)), None)
    logs = request_log_rows(derive_request_logs(distinct)).select(
        "databricks_request_id", "request", "response", "trace", "response_shape")
    return derive_quarantine(distinct).join(logs, "databricks_request_id", "left").collect()


@settings(max_examples=40, deadline=None, derandomize=True, database=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.large_base_example])
@given(rows=payload_rows())
def test_every_row_lands_once_and_no_value_is_invented(spark, rows):
    classified = _derived(spark, rows)

    # every payload row is accounted for exactly once
    assert len(classified) + sum(r["duplicates_collapsed"] for r in classified) == len(rows)
    assert {r["destination"] for r in classified} <= {"request_logs", "assessment_logs", "quarantine"}
    assert all((r["destination"] == "quarantine") == (r["reason"] is not None) for r in classified)
    distinct_ids = {r["databricks_request_id"] for r in rows if (r["databricks_request_id"] or "").strip()}
    assert {r["databricks_request_id"] for r in classified if r["databricks_request_id"]} == distinct_ids

    for row in classified:
        if row["databricks_request_id"] is None:
            assert row["reason"] == "missing_request_id"
            continue
        if row["request_raw"] is not None:
            assert (row["reason"] == "request_not_json") == (not is_json(row["request_raw"]))
        if row["destination"] == "request_logs":
            original = next(r for r in rows if r["databricks_request_id"] == row["databricks_request_id"]
                            and r["request"] == row["request_raw"])
            if row["request"] is not None:
                assert composed_of(row["request"], row["request_raw"])
            if row["response"] is not None:
                assert composed_of(row["response"], original["response"])
            if row["trace"] is not None:
                strict_json(row["trace"])
        if row["destination"] == "assessment_logs":
            assert row["assessment_count"] > 0


@pytest.mark.parametrize("text, expected_response", [
    ("", None), ("   ", None), ("null", None), ("[]", None), ("{}", None), ("[1,2]", None), ("\u0000", None),
    ('{"messages": "\u2028"}', None),
    ('"hi"', "hi"),   # a bare JSON string is a pyfunc answer; as a request it is not a query
])
def test_degenerate_bodies_are_classified_not_crashed(spark, text, expected_response):
    [row] = _derived(spark, [gateway_row("x", text, text)])
    assert row["destination"] in ("request_logs", "quarantine")
    if row["destination"] == "request_logs":
        assert (row["request"], row["response"]) == (None, expected_response)


def test_the_decoder_limits_through_the_passes(spark):
    """DECODER_LIMITS, as the tables show them: nesting up to the declared depth is read, nesting
    far beyond the recursion limit is not JSON (quarantined, or a not_json response), and a
    string longer than any limit Spark's JSON reader had is read whole."""
    question = {"messages": [{"role": "user", "content": "q"}]}
    answer = sp.chat_completion("a")

    def nested(body: dict, levels: int) -> str:
        return json.dumps(body)[:-1] + ', "deep": ' + "[" * (levels - 1) + "]" * (levels - 1) + "}"

    depth = DECODER_LIMITS["nesting_depth"]
    long_text = "x" * 25_000_000
    rows = [gateway_row("request at the depth", nested(question, depth), answer),
            gateway_row("request far beyond it", nested(question, 100_000), answer),
            gateway_row("response at the depth", question, nested(answer, depth)),
            gateway_row("response far beyond it", question, nested(answer, 100_000)),
            gateway_row("a long string", {"messages": [{"role": "user", "content": long_text}]}, answer)]
    distinct = collapse_duplicates(normalize_payload(spark.createDataFrame(rows, GATEWAY_PAYLOAD)), [])
    tables = output_rows(distinct)
    logs = {r["databricks_request_id"]: r for r in tables["request_logs"].select(
        "databricks_request_id", "request", "response").collect()}
    shapes = dict(request_log_rows(derive_request_logs(distinct)).select(
        "databricks_request_id", "response_shape").collect())
    quarantined = dict(tables["quarantine"].select("databricks_request_id", "reason").collect())

    assert (logs["request at the depth"]["request"], logs["response at the depth"]["response"]) == ("q", "a")
    assert quarantined == {"request far beyond it": "request_not_json"}
    assert (shapes["response at the depth"], shapes["response far beyond it"]) == ("chat_completion", "not_json")
    assert logs["a long string"]["request"] == long_text
