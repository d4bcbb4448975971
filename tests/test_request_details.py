"""The request-details table: its rows from hand-made payload rows (chispa), and the jobs that
write it when ``tables.request_details`` is set (end to end, classic and Connect)."""
import json

import pytest
from chispa import assert_df_equality

from jobs.cli import main
from pipelines.io.delta_tables import TableLocation, read_table, write_table
from pipelines.samples import sample_payloads as sp
from pipelines.transforms.duplicates import collapse_duplicates
from pipelines.transforms.normalize import normalize_payload
from pipelines.transforms.request_details import derive_request_details, request_detail_rows
from schemas.payload import PayloadGeneration
from schemas.request_details import REQUEST_DETAILS
from tests.conftest import DAY, NOON, OUTPUT_TABLES, gateway_row, legacy_row, table_config

QUESTION, ANSWER = "How do I grant SELECT?", "Run GRANT SELECT."
DOCS = [{"doc_uri": d["metadata"]["doc_uri"], "content": d["page_content"], "score": d["metadata"]["score"]}
        for d in sp.RETRIEVED]


def details_of(frame):
    return request_detail_rows(derive_request_details(collapse_duplicates(normalize_payload(frame), [])))


def expected_row(request_id, prompt, completion, total, source, documents, calls, served="agent-1",
                 request_too_large=False, response_too_large=False, endpoint=None):
    return {"databricks_request_id": request_id, "date": DAY, "timestamp": NOON.replace(tzinfo=None),
            "timestamp_ms": int(NOON.timestamp() * 1000), "status_code": 200, "execution_time_ms": 100,
            "endpoint_name": endpoint, "served_entity": served, "prompt_tokens": prompt, "completion_tokens": completion,
            "total_tokens": total, "token_usage_source": source, "retrieved_documents": documents, "tool_calls": calls,
            "request_too_large": request_too_large, "response_too_large": response_too_large}


def test_details_of_each_body_shape_and_trace_format(spark, gateway_payload):
    request = sp.chat_request(QUESTION)
    rows = [
        gateway_row("chat-v2", request, sp.chat_completion(ANSWER, sp.trace_v2(QUESTION, ANSWER))),
        gateway_row("agent-mlflow2", request, sp.chat_agent_response(ANSWER, sp.trace_mlflow2(QUESTION, ANSWER))),
        gateway_row("responses-mlflow3", request, sp.responses_agent_response(ANSWER, sp.trace_mlflow3(QUESTION, ANSWER))),
        gateway_row("stream-mlflow3", request, sp.chat_stream("a b", sp.trace_mlflow3(QUESTION, ANSWER))),
        # a trace logged as a JSON-encoded string is read from the text it holds
        gateway_row("encoded-v1", request, {"choices": [{"message": {"content": ANSWER}}],
                                            "databricks_output": {"trace": json.dumps(sp.trace_v1(QUESTION, ANSWER))}}),
        gateway_row("too-large", request, None, logging_error_codes=["MAX_RESPONSE_SIZE_EXCEEDED"]),
        # feedback and quarantined rows have no details
        gateway_row("feedback", sp.feedback_request("chat-v2", "r@x.com"), sp.FEEDBACK_RESPONSE),
        gateway_row("broken", '{"messages": [', ANSWER),
    ]
    v1_docs = [{"doc_uri": "dbfs:/docs/a.md", "content": "Delta Lake is a storage layer.", "score": None}]
    expected = [
        expected_row("chat-v2", 120, 40, 160, "response", DOCS, 0),
        expected_row("agent-mlflow2", 250, 30, 280, "trace_spans", DOCS, 1),
        expected_row("responses-mlflow3", 812, 96, 908, "trace", DOCS, 1),
        expected_row("stream-mlflow3", 95, 2, 97, "stream", DOCS, 0),
        expected_row("encoded-v1", None, None, None, None, v1_docs, 0),
        expected_row("too-large", None, None, None, None, None, None, response_too_large=True),
    ]
    assert_df_equality(details_of(gateway_payload(rows)), spark.createDataFrame(expected, REQUEST_DETAILS),
                       ignore_row_order=True, ignore_nullable=True, ignore_metadata=True)


def test_legacy_rows_name_their_endpoint_and_model_version(spark, legacy_payload):
    frame = legacy_payload([legacy_row("a", sp.chat_request(QUESTION), sp.chat_completion(ANSWER))])
    expected = [expected_row("a", 120, 40, 160, "response", None, 0, served="m/1", endpoint="ep")]
    assert_df_equality(details_of(frame), spark.createDataFrame(expected, REQUEST_DETAILS),
                       ignore_row_order=True, ignore_nullable=True, ignore_metadata=True)


@pytest.mark.e2e
def test_backfill_and_hourly_write_one_details_row_per_request_logs_row(spark, tmp_path, capsys):
    config = table_config(tmp_path, (*OUTPUT_TABLES, "request_details"),
                          f"state:\n  checkpoint: {tmp_path}/checkpoint\n  lock: {tmp_path}/lock\n")
    payload = TableLocation(str(tmp_path / "payload"))
    write_table(sp.payload_frame(spark, sp.payload_rows(300, seed=5, days=2), PayloadGeneration.GATEWAY), payload)

    def run(*args):
        assert main([*args, "--config", str(config), "--payload-table", str(tmp_path / "payload"), "--json"]) == 0
        out = capsys.readouterr().out
        return json.loads(out)

    def keys(name):
        return sorted(map(tuple, read_table(spark, TableLocation(str(tmp_path / name)))
                          .select("date", "databricks_request_id").collect()))

    report = run("backfill")
    assert report["ok"] and report["checks"]["request_details_derived_once"]
    assert report["checks"]["request_details_commit_wrote_every_row"]
    assert report["rows_written"]["request_details"] == report["request_logs_rows"]
    assert keys("request_details") == keys("request_logs")
    details = read_table(spark, TableLocation(str(tmp_path / "request_details")))
    # the sample logs tokens and retrievers in every trace format but the steps one
    assert details.where("total_tokens IS NOT NULL").count() > 0
    assert details.where("size(retrieved_documents) > 0").count() > 0

    # verify derives them again and finds the table as derived
    findings = run("verify")
    assert findings["ok"] and findings["tables"]["request_details"]["clean"]
    assert findings["tables"]["request_details"]["found"] == report["request_logs_rows"]

    # the hourly job merges the same rows in: nothing new, nothing lost
    report = run("hourly")
    assert report["ok"], report
    assert keys("request_details") == keys("request_logs")
    assert details.count() == report["request_logs_rows"]
