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
    assert (settings.tables.payload, settings.tables.quarantine) == ("cat.sch.model_payload",
                                                                     str(tmp_path / "a" / "quarantine"))


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
    assert production.state.checkpoint.startswith("/Volumes/main/agents/")


def test_relative_paths_are_relative_to_the_config_file_and_overrides_to_the_working_directory(
        tmp_path, monkeypatch):
    config = tmp_path / "conf" / "conf.yaml"
    config.parent.mkdir()
    config.write_text(VALID.replace("a/request_logs", "../data/request_logs")
                      + "spark:\n  jars_cache: jars\nstate:\n  checkpoint: cp\n  lock: main.s.leases\n"
                        "  batch_reports: ../state/reports\n")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    settings = load_settings(config, {"tables.quarantine": "mine/quarantine"})
    assert settings.tables.request_logs == str(tmp_path / "data" / "request_logs")
    assert settings.tables.assessment_logs == str(tmp_path / "conf" / "a" / "assessment_logs")
    assert settings.tables.quarantine == str(elsewhere / "mine" / "quarantine")
    assert settings.spark.jars_cache == str(tmp_path / "conf" / "jars")
    assert settings.state.checkpoint == str(tmp_path / "conf" / "cp")
    assert settings.state.lock == "main.s.leases"  # a table name stays a name
    assert settings.state.batch_reports == str(tmp_path / "state" / "reports")


def test_every_table_key_is_a_path_relative_to_the_config_file(tmp_path, monkeypatch):
    from pipelines.config import TableSettings

    config = tmp_path / "conf" / "conf.yaml"
    config.parent.mkdir()
    config.write_text("environment: test\ntables:\n"
                      + "".join(f"  {name}: ../data/{name}\n" for name in TableSettings.model_fields))
    monkeypatch.chdir(tmp_path.parent)   # anywhere but the config's directory
    tables = load_settings(config).tables
    assert {name: getattr(tables, name) for name in TableSettings.model_fields} == {
        name: str(tmp_path / "data" / name) for name in TableSettings.model_fields}


def test_catalog_and_schema_fill_the_placeholders(tmp_path):
    text = VALID.replace("a/request_logs", "${catalog}.${schema}.request_logs") + "catalog: main\nschema: agents\n"
    assert load_settings(write(tmp_path, text)).tables.request_logs == "main.agents.request_logs"
    overridden = load_settings(write(tmp_path, text), {"catalog": "dev", "schema": "me"})
    assert overridden.tables.request_logs == "dev.me.request_logs"
    with pytest.raises(ConfigError, match=r"uses \$\{catalog\} but catalog is not set"):
        load_settings(write(tmp_path, VALID.replace("a/request_logs", "${catalog}.x.request_logs")))


def _bundle_jobs() -> dict:
    import glob

    import yaml

    jobs = {}
    for path in sorted(glob.glob("jobs/*.job.yml")):
        jobs.update(yaml.safe_load(open(path))["resources"]["jobs"])
    return jobs


def _bundle_tasks():
    for job in _bundle_jobs().values():
        environments = {env["environment_key"]: env["spec"] for env in job["environments"]}
        for task in job["tasks"]:
            yield task, environments[task["environment_key"]]


def _task_arguments(task, variables: dict) -> list[str]:
    parameters = []
    for parameter in task["python_wheel_task"]["parameters"]:
        parameter = parameter.replace("${var.config}", "conf/production.yaml")
        for name, value in variables.items():
            parameter = parameter.replace("${var." + name + "}", value)
        parameters.append(parameter.replace("{{job.parameters.start_date}}", "2025-12-01")
                          .replace("{{job.parameters.end_date}}", "2025-12-02"))
    return parameters


def test_dev_and_prod_targets_write_different_tables_and_read_the_same_payload():
    import yaml

    from jobs.cli import build_parser, settings_from

    bundle = yaml.safe_load(open("databricks.yml"))
    defaults = {name: spec["default"] for name, spec in bundle["variables"].items() if "default" in spec}
    written = {}
    for target in ("dev", "prod"):
        variables = {**defaults, **bundle["targets"][target]["variables"]}
        variables["schema"] = variables["schema"].replace("${workspace.current_user.short_name}", "ann")
        for task, environment in _bundle_tasks():
            assert int(environment["environment_version"]) >= 4  # a client with the PySpark 4 API
            settings = settings_from(build_parser().parse_args(_task_arguments(task, variables)))
            tables = settings.tables
            written.setdefault(target, set()).update(
                {tables.request_logs, tables.assessment_logs, tables.quarantine, tables.run_history,
                 tables.assessment_logs_latest, tables.request_details, tables.eval_set,
                 settings.state.checkpoint, settings.state.lock,
                 settings.state.batch_reports})
            assert tables.payload == "main.agents.docs_agent_payload"
    assert written["dev"] and not written["dev"] & written["prod"]
    assert all(name.startswith(("dev.agents_ann.", "/Volumes/dev/agents_ann/")) for name in written["dev"])


def test_the_entry_point_exits_with_the_run_code(monkeypatch, tmp_path):
    from jobs.cli import run

    monkeypatch.setattr("sys.argv", ["inference-logs", "hourly", "--config", str(tmp_path / "missing.yaml")])
    with pytest.raises(SystemExit) as exited:
        run()
    assert exited.value.code == 2  # a failed run fails the job task


def test_bundle_jobs_run_the_packaged_entry_point_with_real_commands():
    import tomllib

    from jobs.cli import build_parser

    scripts = tomllib.load(open("pyproject.toml", "rb"))["project"]["scripts"]
    commands = set()
    for task, _ in _bundle_tasks():
        assert scripts[task["python_wheel_task"]["entry_point"]] == "jobs.cli:run"
        parameters = _task_arguments(task, {"catalog": "main", "schema": "agents", "payload_table": "a.b.c"})
        build_parser().parse_args(parameters)  # exits on an unknown command or option
        commands.add(parameters[0])
    assert commands == {"hourly", "backfill"}


def test_the_configuration_reference_is_generated_from_the_models():
    from pathlib import Path

    from pipelines.config import configuration_reference

    doc = Path(__file__).resolve().parents[1].joinpath("docs", "configuration.md").read_text()
    begin = doc.index("<!-- configuration:begin")
    section = doc[doc.index("\n", begin) + 1: doc.index("<!-- configuration:end -->")]
    assert section.strip() == configuration_reference().strip()


@pytest.mark.parametrize("lock,expected", [
    ("main.agents.inference_logs_run_leases", "main.agents.inference_logs_batch_reports"),
    ("/data/state/run_leases", "/data/state/batch_reports"),
])
def test_batch_reports_default_to_beside_the_lock_and_an_explicit_value_wins(tmp_path, lock, expected):
    state = f"state:\n  checkpoint: /c\n  lock: {lock}\n"
    assert load_settings(write(tmp_path, VALID + state)).state.batch_reports == expected
    explicit = load_settings(write(tmp_path, VALID + state + "  batch_reports: cat.sch.mine\n"))
    assert explicit.state.batch_reports == "cat.sch.mine"
