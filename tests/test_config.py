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
