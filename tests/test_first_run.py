"""A new user's first run: a config in its own directory, run from there, with an empty jar
cache. The jars are fetched and the run succeeds in the same process; every relative path is
relative to the config file, not to where the command was started."""
import subprocess
import sys
from pathlib import Path

from pipelines.io.spark_session import classic_environment

REPO = Path(__file__).resolve().parents[1]


def test_first_run_from_another_directory_fetches_the_jars_and_writes_beside_the_config(tmp_path):
    project = tmp_path / "my-agent"
    (project / "conf").mkdir(parents=True)
    (project / "conf" / "hourly.yaml").write_text("""
environment: trial
spark:
  jars_cache: ../jars
tables:
  request_logs: ../tables/request_logs
  assessment_logs: ../tables/assessment_logs
  quarantine: ../tables/quarantine
state:
  checkpoint: ../state/checkpoint
  lock: ../state/run_leases
  batch_reports: ../state/batch_reports
sample_data:
  table: ../tables/payload
  rows: 40
""")
    somewhere_else = tmp_path / "shell"
    somewhere_else.mkdir()
    env = classic_environment()  # a local, classic run
    env["PYTHONPATH"] = str(REPO)
    run = subprocess.run([sys.executable, "-m", "jobs.cli", "hourly", "--config", "../my-agent/conf/hourly.yaml"],
                         cwd=somewhere_else, env=env, capture_output=True, text=True, timeout=900)
    assert run.returncode == 0, run.stderr[-3000:]
    assert "payload rows read       40" in run.stdout
    assert (project / "jars" / ".complete").exists() and list((project / "jars").glob("io.delta_delta-spark_*.jar"))
    for table in ("payload", "request_logs", "assessment_logs", "quarantine"):
        assert (project / "tables" / table / "_delta_log").is_dir(), table
    assert not list(somewhere_else.iterdir())  # nothing written where the command was started
