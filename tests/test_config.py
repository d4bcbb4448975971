"""Config files are validated with errors that name the key."""
import pytest

from pipelines.config import ConfigError, load_settings

VALID = """
environment: test
tables:
  request_logs: a/request_logs
  assessment_logs: a/assessment_logs
  quarantine: a/quarantine
"""


def write(tmp_path, text):
    path = tmp_path / "conf.yaml"
    path.write_text(text)
    return path


def test_valid_config_and_overrides(tmp_path):
    settings = load_settings(write(tmp_path, VALID), {"tables.payload": "cat.sch.model_payload", "tables.quarantine": None})
    assert (settings.tables.payload, settings.tables.quarantine) == ("cat.sch.model_payload", "a/quarantine")


@pytest.mark.parametrize("text,message", [
    (VALID.replace("quarantine: a/quarantine", "quarantin: a/quarantine"), "tables.quarantin: unknown key"),
    (VALID.replace("quarantine: a/quarantine", ""), "tables.quarantine: Field required"),
    (VALID + "sample_data:\n  table: x/y\n  rows: -1\n", "sample_data.rows: Input should be greater than 0"),
    (VALID + "sample_data:\n  table: x/y\n  generation: modern\n", "sample_data.generation"),
    ("- a list", "must hold a mapping"),
    ("tables: [unclosed", "not valid YAML"),
])
def test_invalid_configs_name_the_key(tmp_path, text, message):
    with pytest.raises(ConfigError, match=message):
        load_settings(write(tmp_path, text))


def test_missing_file(tmp_path):
    with pytest.raises(ConfigError, match="does not exist"):
        load_settings(tmp_path / "nope.yaml")


def test_shipped_configs_are_valid():
    assert load_settings("conf/local.yaml").tables.payload is None
    production = load_settings("conf/production.yaml")
    assert production.tables.payload == "main.agents.docs_agent_payload"
    assert production.state.checkpoint.startswith("/Volumes/")


def test_bundle_jobs_run_the_packaged_entry_point_with_real_commands():
    import tomllib

    import yaml

    from jobs.cli import build_parser

    scripts = tomllib.load(open("pyproject.toml", "rb"))["project"]["scripts"]
    jobs = yaml.safe_load(open("jobs/inference_logs.job.yml"))["resources"]["jobs"]
    commands = set()
    for job in jobs.values():
        for task in job["tasks"]:
            wheel_task = task["python_wheel_task"]
            assert wheel_task["entry_point"] in scripts
            parameters = [p.replace("${var.config}", "conf/production.yaml") for p in wheel_task["parameters"]]
            parameters = [p.replace("{{job.parameters.start_date}}", "2025-12-01")
                          .replace("{{job.parameters.end_date}}", "2025-12-02") for p in parameters]
            build_parser().parse_args(parameters)  # exits on an unknown command or option
            commands.add(parameters[0])
    assert commands == {"hourly", "backfill"}
