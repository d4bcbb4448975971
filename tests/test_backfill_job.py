"""The backfill job end to end, through the CLI, on temporary Delta tables."""
import datetime as dt
import json

import pytest
from pyspark.sql import functions as F

from jobs.cli import main
from pipelines.samples import sample_payloads as sp
from pipelines.io.delta_tables import TableLocation, read_table, write_table
from schemas.assessment_logs import ASSESSMENT_LOGS
from schemas.quarantine import QUARANTINE
from schemas.request_logs import REQUEST_LOGS
from schemas.payload import PayloadGeneration
from tests.conftest import gateway_row, table_config

pytestmark = pytest.mark.e2e


@pytest.fixture
def workspace(tmp_path):
    """A config whose three output tables live under tmp_path."""
    return tmp_path, table_config(tmp_path)


def backfill(config, payload, *extra):
    return main(["backfill", "--config", str(config), "--payload-table", str(payload), "--json", *extra])


def table_rows(spark, path):
    df = read_table(spark, TableLocation(str(path)))
    return sorted(r["j"] for r in df.select(F.to_json(F.struct(*df.columns)).alias("j")).collect())


def report_from(capsys):
    out = capsys.readouterr().out
    return json.loads(out)


@pytest.mark.parametrize("generation", list(PayloadGeneration))
def test_backfill_derives_all_three_tables_and_reconciles(spark, workspace, capsys, generation):
    tmp, config = workspace
    rows = sp.payload_rows(400, seed=11, days=2)
    write_table(sp.payload_frame(spark, rows, generation), TableLocation(str(tmp / "payload")))

    assert backfill(config, tmp / "payload") == 0
    report = report_from(capsys)
    assert report["ok"] and report["balanced"] and all(report["checks"].values())
    assert report["rows_read"] == 400

    outputs = {name: read_table(spark, TableLocation(str(tmp / name)))
               for name in ("request_logs", "assessment_logs", "quarantine")}
    assert outputs["request_logs"].schema.simpleString() == REQUEST_LOGS.simpleString()
    assert outputs["assessment_logs"].schema.simpleString() == ASSESSMENT_LOGS.simpleString()
    assert outputs["quarantine"].schema.simpleString() == QUARANTINE.simpleString()
    assert outputs["request_logs"].count() == report["request_logs_rows"]
    assert outputs["assessment_logs"].count() == report["assessment_rows"] > 0
    assert outputs["quarantine"].count() == report["quarantined_rows"] > 0
    # error rows are kept: monitoring needs them most
    assert outputs["request_logs"].where("status_code >= 400").count() > 0
    # one row per request id
    assert outputs["request_logs"].select("databricks_request_id").distinct().count() == report["request_logs_rows"]


def test_rerun_gives_identical_tables(spark, workspace, capsys):
    tmp, config = workspace
    write_table(sp.payload_frame(spark, sp.payload_rows(200, seed=3, malformed_share=0.1), PayloadGeneration.GATEWAY),
                TableLocation(str(tmp / "payload")))
    assert backfill(config, tmp / "payload") == 0
    first = {name: table_rows(spark, tmp / name) for name in ("request_logs", "assessment_logs", "quarantine")}
    assert backfill(config, tmp / "payload", "--start-date", "2025-12-01", "--end-date", "2025-12-03") == 0
    assert backfill(config, tmp / "payload") == 0
    second = {name: table_rows(spark, tmp / name) for name in ("request_logs", "assessment_logs", "quarantine")}
    assert first == second and all(first.values())
    # a whole-table backfill replaces every row and keeps each table's declared layout
    layout = lambda name: spark.sql(f"DESCRIBE DETAIL delta.`{tmp / name}`").first()  # noqa: E731
    assert list(layout("assessment_logs")["clusteringColumns"]) == ["timestamp"]
    assert list(layout("request_logs")["partitionColumns"]) == ["date"]


def test_a_sliced_backfill_prints_progress_and_gives_the_tables_of_one_pass(spark, workspace, capsys):
    tmp, config = workspace
    from schemas.payload import GATEWAY_PAYLOAD
    rows = sp.payload_rows(240, seed=5, days=3, malformed_share=0.1)
    payload = TableLocation(str(tmp / "payload"))
    write_table(sp.payload_frame(spark, rows, PayloadGeneration.GATEWAY), payload)
    q, a = sp.chat_request("q?"), sp.chat_completion("a.")
    undated = gateway_row("undated", q, a, request_date=None, request_time=None)
    # a day the payload does not hold any more: a whole-table backfill must clear it
    gone = gateway_row("gone", q, a, when=dt.datetime(2025, 11, 20, 9, tzinfo=dt.timezone.utc))
    write_table(spark.createDataFrame([undated, gone], GATEWAY_PAYLOAD), payload, mode="append")

    assert backfill(config, payload) == 0
    one_pass = {name: table_rows(spark, tmp / name) for name in ("request_logs", "assessment_logs", "quarantine")}
    assert any('"gone"' in row for row in one_pass["request_logs"])
    assert any('"undated"' in row for row in one_pass["quarantine"])
    capsys.readouterr()

    spark.sql(f"DELETE FROM delta.`{payload.value}` WHERE databricks_request_id = 'gone'")
    assert backfill(config, payload, "--dates-per-slice", "1") == 0
    printed = capsys.readouterr()
    out = printed.out  # the report alone; progress goes to stderr
    # three payload dates, one slice each, then the undated rows
    assert [line.split(":")[0].strip() for line in printed.err.splitlines() if line.strip().startswith("slice ")] == \
        ["slice 1/4 (... to 2025-12-01)", "slice 2/4 (2025-12-02 to 2025-12-02)", "slice 3/4 (2025-12-03 to ...)",
         "slice 4/4 (rows without a date)"]
    report = json.loads(out)
    assert report["ok"] and report["rows_read"] == 241
    sliced = {name: table_rows(spark, tmp / name) for name in ("request_logs", "assessment_logs", "quarantine")}
    expected = dict(one_pass, request_logs=[row for row in one_pass["request_logs"] if '"gone"' not in row])
    assert sliced == expected


def test_a_bad_slice_size_is_refused_before_anything_runs(workspace, capsys):
    tmp, config = workspace
    assert backfill(config, tmp / "payload", "--dates-per-slice", "0") == 2
    assert "--dates-per-slice must be at least 1" in capsys.readouterr().err


def test_range_backfill_rewrites_only_that_range(spark, workspace, capsys):
    tmp, config = workspace
    day1 = dt.datetime(2025, 12, 1, 9, tzinfo=dt.timezone.utc)
    day2 = day1 + dt.timedelta(days=1)
    payload = TableLocation(str(tmp / "payload"))
    q, a = sp.chat_request("q?"), sp.chat_completion("a.")
    rows = [gateway_row("d1", q, a, when=day1), gateway_row("d2", q, a, when=day2),
            gateway_row("fb2", sp.feedback_request("d2", "x@y"), sp.FEEDBACK_RESPONSE, when=day2)]
    from schemas.payload import GATEWAY_PAYLOAD
    write_table(spark.createDataFrame(rows, GATEWAY_PAYLOAD), payload)

    assert backfill(config, payload, "--start-date", "2025-12-02", "--end-date", "2025-12-02") == 0
    logs = read_table(spark, TableLocation(str(tmp / "request_logs")))
    assert sorted(r[0] for r in logs.select("databricks_request_id").collect()) == ["d2"]
    assert read_table(spark, TableLocation(str(tmp / "assessment_logs"))).count() == 2

    assert backfill(config, payload, "--start-date", "2025-12-01", "--end-date", "2025-12-01") == 0
    logs = read_table(spark, TableLocation(str(tmp / "request_logs")))
    assert sorted(r[0] for r in logs.select("databricks_request_id").collect()) == ["d1", "d2"]
    assert read_table(spark, TableLocation(str(tmp / "assessment_logs"))).count() == 2


def test_a_table_mixing_every_shape_and_trace_format_comes_out_whole(spark, workspace, capsys):
    tmp, config = workspace
    answer = "The answer."
    bodies = {
        "responses-mlflow3": (sp.responses_request("Q1"), sp.responses_agent_response(answer, sp.trace_mlflow3("Q1", answer)), "3"),
        "chat-agent-tools-mlflow2": (sp.chat_request("Q2", with_tool_turn=True),
                                     sp.chat_agent_response(answer, sp.trace_mlflow2("Q2", answer)), "3"),
        "chat-stream-v2": (sp.chat_request("Q3"), sp.chat_stream(answer, sp.trace_v2("Q3", answer)), "2"),
        "rag-v1": (sp.rag_request("Q4"), sp.chat_completion(answer, sp.trace_v1("Q4", answer)), "1"),
        "completion-none": ({"prompt": "Q5"}, {"choices": [{"text": answer}]}, "0"),
    }
    rows = [gateway_row(rid, req, resp) for rid, (req, resp, _) in bodies.items()]
    from schemas.payload import GATEWAY_PAYLOAD
    write_table(spark.createDataFrame(rows, GATEWAY_PAYLOAD), TableLocation(str(tmp / "payload")))

    assert backfill(config, tmp / "payload") == 0
    report = report_from(capsys)
    assert report["trace_formats"] == {"0": 1, "1": 1, "2": 1, "3": 2}
    got = {r["databricks_request_id"]: (r["request"], r["response"], r["schema_version"])
           for r in read_table(spark, TableLocation(str(tmp / "request_logs"))).collect()}
    assert got == {rid: (f"Q{i + 1}", answer, fmt) for i, (rid, (_, _, fmt)) in enumerate(bodies.items())}


def test_missing_payload_table_is_a_clear_error(workspace, capsys):
    tmp, config = workspace
    assert backfill(config, tmp / "does-not-exist") == 2
    assert "no Delta table at" in capsys.readouterr().err


def test_bad_date_range_is_a_clear_error(workspace, capsys):
    tmp, config = workspace
    assert backfill(config, tmp / "x", "--start-date", "2025-12-02") == 2
    assert "--end-date" in capsys.readouterr().err


@pytest.mark.parametrize("name, key", [
    ("request_logs", ["date", "databricks_request_id"]),     # a stored row can be replaced: changed rows are told
    ("request_details", ["date", "databricks_request_id"]),
    ("assessment_logs", None),                              # a row is its whole content
    ("quarantine", None),
])
def test_verify_finds_rows_by_the_declared_identity_of_tables_whose_rows_can_be_replaced(name, key):
    from pipelines.runs import outputs
    from pipelines.runs.verify import row_key

    assert row_key({o.name: o for o in (*outputs.OUTPUTS, *outputs.OPTIONAL_OUTPUTS)}[name]) == key


def test_verify_finds_the_tables_clean_then_names_every_row_missing_extra_or_duplicated(spark, workspace, capsys):
    tmp, config = workspace
    write_table(sp.payload_frame(spark, sp.payload_rows(120, seed=5, malformed_share=0.1), PayloadGeneration.GATEWAY),
                TableLocation(str(tmp / "payload")))
    assert backfill(config, tmp / "payload") == 0
    capsys.readouterr()
    verify = ["verify", "--config", str(config), "--payload-table", str(tmp / "payload"), "--json"]
    assert main(verify) == 0
    clean = json.loads(capsys.readouterr().out)
    assert clean["ok"] and all(t["clean"] and t["expected"] == t["found"] > 0 for t in clean["tables"].values())

    logs = TableLocation(str(tmp / "request_logs"))
    rows = read_table(spark, logs)
    kept = rows.orderBy("databricks_request_id")
    first, second = [r["databricks_request_id"] for r in kept.limit(2).collect()]
    edited = rows.where(F.col("databricks_request_id") != first).unionByName(
        rows.where(F.col("databricks_request_id") == second))           # one row lost, one twice
    write_table(edited.localCheckpoint(), logs)
    quarantine = TableLocation(str(tmp / "quarantine"))
    write_table(read_table(spark, quarantine).limit(0), quarantine)     # quarantine emptied

    assert main(verify) == 3
    found = json.loads(capsys.readouterr().out)["tables"]
    assert (found["request_logs"]["missing"], found["request_logs"]["duplicated"], found["request_logs"]["extra"]) == (1, 1, 1)
    assert first in found["request_logs"]["examples"]["missing"][0]
    assert second in found["request_logs"]["examples"]["duplicated"][0]
    assert found["quarantine"]["found"] == 0 < found["quarantine"]["missing"] <= found["quarantine"]["expected"]
    assert found["assessment_logs"]["clean"]
