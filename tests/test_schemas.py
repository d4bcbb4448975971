"""The declared output schemas are exactly the vendor's documented ones (docs/payload-formats.md)."""
from schemas.assessment_logs import ASSESSMENT_LOGS
from schemas.request_logs import REQUEST_LOGS

RATINGS = "map<string,struct<value:string,double_value:double,rationale:string>>"

# Transcribed by hand from the vendor's documented schemas (docs/payload-formats.md, the derived tables).
SPEC_REQUEST_LOGS = [
    ("client_request_id", "string"), ("databricks_request_id", "string"), ("date", "date"),
    ("timestamp_ms", "bigint"), ("timestamp", "timestamp"), ("status_code", "int"), ("execution_time_ms", "bigint"),
    ("conversation_id", "string"), ("request", "string"), ("response", "string"), ("request_raw", "string"),
    ("response_raw", "string"), ("trace", "string"), ("sampling_fraction", "double"),
    ("request_metadata", "map<string,string>"), ("schema_version", "string"),
]
SPEC_ASSESSMENT_LOGS = [
    ("request_id", "string"), ("step_id", "string"),
    ("source", "struct<type:string,id:string,tags:map<string,string>>"), ("timestamp", "timestamp"),
    ("text_assessment", f"struct<step_id:string,ratings:{RATINGS},free_text_comment:string,suggested_output:string>"),
    ("retrieval_assessment", f"struct<position:int,step_id:string,ratings:{RATINGS},free_text_comment:string>"),
]


def columns(schema):
    return [(f.name, f.dataType.simpleString()) for f in schema.fields]


def test_request_logs_schema_is_the_documented_one():
    assert columns(REQUEST_LOGS) == SPEC_REQUEST_LOGS


def test_assessment_logs_schema_is_the_documented_one():
    assert columns(ASSESSMENT_LOGS) == SPEC_ASSESSMENT_LOGS


def test_every_column_is_documented():
    for schema in (REQUEST_LOGS, ASSESSMENT_LOGS):
        assert all(f.metadata.get("comment") for f in schema.fields)


def test_the_documented_schema_tables_are_generated_from_the_declarations():
    from pathlib import Path

    from schemas.render import schema_docs

    doc = Path(__file__).resolve().parents[1].joinpath("docs", "derivation-rules.md").read_text()
    begin = doc.index("<!-- schemas:begin")
    section = doc[doc.index("\n", begin) + 1: doc.index("<!-- schemas:end -->")]
    assert section.strip() == schema_docs().strip()


# --- the tables, declared once (schemas/tables.py) ---------------------------------------------


def test_every_declared_table_has_its_key_in_the_configuration():
    from pipelines.config import TableSettings
    from schemas.tables import TABLES

    fields = TableSettings.model_fields
    assert all(table.name in fields for table in TABLES)
    assert [table.name for table in TABLES if not table.optional] == ["request_logs", "assessment_logs", "quarantine"]
    assert all(fields[table.name].is_required() != table.optional for table in TABLES)


def test_the_rules_send_rows_to_the_derived_tables_by_their_declared_names():
    from pipelines.rules.classify import DESTINATIONS
    from schemas.tables import DERIVED

    assert DESTINATIONS == tuple(table.name for table in DERIVED)


def test_each_table_is_identified_by_declared_columns_and_laid_out_on_its_own_columns():
    from schemas.tables import TABLES

    for table in TABLES:
        columns = set(table.schema.fieldNames())
        assert {table.partition_by, table.cluster_by, table.range_column} - {None} <= columns, table.name
        top_level = {expression.format(side="").strip("()").split()[0].split(".")[0] for expression in table.identity}
        assert top_level <= columns, table.name
        assert table.identity_sql("t.")[0].startswith(("t.", "(t."))


def test_a_writer_joins_on_short_identity_columns_and_on_a_digest_of_long_or_nested_ones():
    from pipelines.runs.outputs import ASSESSMENT_LOGS, QUARANTINE, REQUEST_LOGS

    assert REQUEST_LOGS.identity == ("date", "databricks_request_id")
    assert QUARANTINE.identity[0].startswith("sha2(") and "payload_row" in QUARANTINE.identity[0]  # long JSON
    assert len(ASSESSMENT_LOGS.identity) == 1 and "'source', source" in ASSESSMENT_LOGS.identity[0]  # a struct


def test_ddl_prints_every_configured_table_and_skips_an_optional_one_left_out(tmp_path, capsys):
    from jobs.cli import main

    config = tmp_path / "conf.yaml"
    base = "\n".join(f"  {name}: {tmp_path}/{name}" for name in ("payload", "request_logs", "assessment_logs", "quarantine"))
    config.write_text(f"environment: test\ntables:\n{base}\n  run_history: {tmp_path}/run_history\n")
    assert main(["ddl", "--config", str(config)]) == 0
    printed = capsys.readouterr().out
    created = [line.split("delta.`")[1].split("`")[0] for line in printed.splitlines() if line.startswith("CREATE TABLE")]
    assert created == [f"{tmp_path}/{name}" for name in ("request_logs", "assessment_logs", "quarantine", "run_history")]
    assert "PARTITIONED BY (`date`)" in printed and "CLUSTER BY (`timestamp`)" in printed
