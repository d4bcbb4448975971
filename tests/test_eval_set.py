"""The evaluation set: its rows from hand-made table rows (chispa), and the ``eval-set`` command
end to end on a backfill of the sample, read back in MLflow's record shape."""
import datetime as dt
import json

import pytest
from chispa import assert_df_equality

from jobs.cli import main
from pipelines.io.delta_tables import TableLocation, read_table, write_table
from pipelines.samples import sample_payloads as sp
from pipelines.transforms.eval_set import eval_set_rows
from schemas.assessment_logs import ASSESSMENT_LOGS
from schemas.eval_set import EVAL_SET
from schemas.payload import PayloadGeneration
from schemas.request_details import REQUEST_DETAILS
from schemas.request_logs import REQUEST_LOGS
from tests.conftest import OUTPUT_TABLES, table_config

DAY = dt.date(2025, 12, 1)
T0 = dt.datetime(2025, 12, 1, 12, 0)
DOC_A = {"doc_uri": "a.md", "content": "A", "score": 0.9}
DOC_B = {"doc_uri": "b.md", "content": "B", "score": None}


def log_row(request_id, request_raw='{"messages": [{"role": "user", "content": "q"}]}', response="the answer"):
    return {"databricks_request_id": request_id, "date": DAY, "request": "q", "response": response,
            "request_raw": request_raw}


def detail_row(request_id, documents):
    return {"databricks_request_id": request_id, "date": DAY, "retrieved_documents": documents}


def text_rating(request_id, rater, value, minutes, suggested=None):
    return {"request_id": request_id, "step_id": None, "source": {"type": "human", "id": rater, "tags": None},
            "timestamp": T0 + dt.timedelta(minutes=minutes), "retrieval_assessment": None,
            "text_assessment": {"step_id": None, "ratings": {"answer_correct": {"value": value, "double_value": None,
                                                                                  "rationale": None}},
                                "free_text_comment": None, "suggested_output": suggested}}


def retrieval_rating(request_id, position, value, minutes, rater="r1"):
    return {"request_id": request_id, "step_id": None, "source": {"type": "human", "id": rater, "tags": None},
            "timestamp": T0 + dt.timedelta(minutes=minutes), "text_assessment": None,
            "retrieval_assessment": {"position": position, "step_id": None, "free_text_comment": None,
                                     "ratings": {"relevance": {"value": value, "double_value": None, "rationale": None}}}}


def frame(spark, rows, schema, columns):
    fields = [f for f in schema.fields if f.name in columns]
    from pyspark.sql.types import StructType
    return spark.createDataFrame([{c: r.get(c) for c in columns} for r in rows], StructType(fields))


def expected(request_id, inputs, outputs, expectations, rater, rating, minutes):
    tags = {"databricks_request_id": request_id, **({"rater": rater} if rater else {}),
            **({"rating": rating} if rating else {})}
    return {"request_id": request_id, "date": DAY, "inputs": inputs, "outputs": outputs,
            "expectations": json.dumps(expectations, separators=(",", ":")), "tags": tags, "rater": rater,
            "rating": rating, "rated_at": None if minutes is None else T0 + dt.timedelta(minutes=minutes)}


def test_one_row_per_rated_request_with_the_latest_rating_and_what_was_rated_relevant(spark):
    body = '{"messages": [{"role": "user", "content": "q"}]}'
    logs = [log_row("liked"), log_row("corrected"), log_row("disliked"), log_row("only-docs"),
            log_row("not-json-object", request_raw='"just a string"'), log_row("never-rated")]
    details = [detail_row("liked", [DOC_A, DOC_B]), detail_row("only-docs", [DOC_A])]
    ratings = [
        text_rating("liked", "r1", "negative", 1), text_rating("liked", "r2", "positive", 5),  # the latest wins
        retrieval_rating("liked", 1, "positive", 2), retrieval_rating("liked", 0, "positive", 2),
        retrieval_rating("liked", 0, "negative", 3),          # position 0's latest rating is negative
        retrieval_rating("liked", 7, "positive", 3),          # beyond the documents: skipped
        text_rating("corrected", "r1", "negative", 1, suggested="a better answer"),
        text_rating("corrected", "r1", "negative", 2),        # the latest suggested output is kept
        text_rating("disliked", "r3", "negative", 4),
        retrieval_rating("only-docs", 0, "positive", 1),
        text_rating("not-json-object", "r1", "true", 1),      # a JSON true is positive
        text_rating("unknown-request", "r1", "positive", 1),  # not in the request logs: no row
    ]
    rows = eval_set_rows(frame(spark, logs, REQUEST_LOGS, logs[0].keys()),
                         spark.createDataFrame(ratings, ASSESSMENT_LOGS),
                         frame(spark, details, REQUEST_DETAILS, details[0].keys()))
    want = [
        expected("liked", body, "the answer", {"expected_response": "the answer",
                                               "expected_retrieved_context": [{"doc_uri": "b.md", "content": "B"}]},
                 "r2", "positive", 5),
        expected("corrected", body, "the answer", {"expected_response": "a better answer"}, "r1", "negative", 2),
        expected("disliked", body, "the answer", {}, "r3", "negative", 4),
        expected("only-docs", body, "the answer",
                 {"expected_retrieved_context": [{"doc_uri": "a.md", "content": "A"}]}, None, None, None),
        expected("not-json-object", '{"request":"q"}', "the answer", {"expected_response": "the answer"},
                 "r1", "true", 1),
    ]
    by_id = [lambda df: df.orderBy("request_id")]   # (a map column cannot be sorted on)
    assert_df_equality(rows, spark.createDataFrame(want, EVAL_SET), transforms=by_id, ignore_nullable=True,
                       ignore_metadata=True)


def test_without_request_details_no_retrieved_context_is_known(spark):
    logs = [log_row("a")]
    ratings = [text_rating("a", "r1", "positive", 1), retrieval_rating("a", 0, "positive", 1)]
    rows = eval_set_rows(frame(spark, logs, REQUEST_LOGS, logs[0].keys()), spark.createDataFrame(ratings, ASSESSMENT_LOGS),
                         None).collect()
    assert [json.loads(row["expectations"]) for row in rows] == [{"expected_response": "the answer"}]


#: The keys MLflow's judges and scorers read from ``expectations`` (mlflow.genai, MLflow 3).
MLFLOW_EXPECTATION_KEYS = {"expected_response", "expected_facts", "guidelines", "expected_retrieved_context"}


@pytest.mark.e2e
def test_eval_set_command_writes_mlflow_records_and_a_rerun_leaves_the_same_table(spark, tmp_path, capsys):
    config = table_config(tmp_path, (*OUTPUT_TABLES, "request_details", "eval_set"))
    write_table(sp.payload_frame(spark, sp.payload_rows(400, seed=11, days=2), PayloadGeneration.GATEWAY),
                TableLocation(str(tmp_path / "payload")))
    common = ["--config", str(config), "--payload-table", str(tmp_path / "payload")]
    assert main(["backfill", *common]) == 0
    capsys.readouterr()

    def export(*extra):
        assert main(["eval-set", *common, "--json", *extra]) == 0
        out = capsys.readouterr().out
        return json.loads(out)

    report = export()
    assert report["ok"] and report["rows"] == report["rows_written"] > 0
    table = read_table(spark, TableLocation(str(tmp_path / "eval_set")))
    rated = read_table(spark, TableLocation(str(tmp_path / "assessment_logs"))).select("request_id").distinct()
    logs = read_table(spark, TableLocation(str(tmp_path / "request_logs"))).select("databricks_request_id")
    assert table.count() == rated.join(logs, rated.request_id == logs.databricks_request_id, "left_semi").count()

    # read as mlflow.genai.evaluate reads a Spark DataFrame (MLflow 3.18), with no transformation
    from mlflow.genai.evaluation.entities import EvalItem
    from mlflow.genai.evaluation.utils import _convert_to_eval_set

    records = _convert_to_eval_set(table).to_dict("records")
    assert len(records) == report["rows"]
    for record in records:
        item = EvalItem.from_dataset_row(record)
        assert isinstance(item.inputs, dict) and item.inputs and item.request_id == record["request_id"]
        assert isinstance(item.expectations, dict) and set(item.expectations) <= MLFLOW_EXPECTATION_KEYS
        assert isinstance(item.outputs, str) or item.outputs is None
        for document in item.expectations.get("expected_retrieved_context", []):
            assert set(document) == {"doc_uri", "content"} and document["doc_uri"]
        assert item.tags["databricks_request_id"] == item.request_id
    assert report["with_expected_context"] > 0 and report["with_expected_response"] > 0

    def snapshot():
        return sorted(row[0] for row in table.selectExpr("to_json(struct(*))").collect())

    before = snapshot()
    assert export()["rows_written"] == report["rows"]
    assert snapshot() == before
    # a range replaces only its own dates
    first = export("--start-date", "2025-12-01", "--end-date", "2025-12-01")
    assert 0 < first["rows"] < report["rows"]
    assert snapshot() == before
