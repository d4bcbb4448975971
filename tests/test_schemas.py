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
