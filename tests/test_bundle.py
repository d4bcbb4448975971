"""The Databricks Asset Bundle passes the CLI's schema and its target-mode rules for every
target, so the next edit cannot break a deploy silently.

The job resources are checked by the models of `databricks-bundles` (PyPI, pinned in the dev
extra), which the Databricks CLI's team generates from the CLI's own bundle JSON schema: an
unknown key or a value outside an enum is refused. The target-mode rules are the CLI's
(`bundle validate`): a production target must set `workspace.root_path`; development mode
pauses only schedules whose `pause_status` is not set.
"""
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]
BUNDLE = yaml.safe_load((REPO / "databricks.yml").read_text())
JOB_FILES = sorted((REPO / "jobs").glob("*.job.yml"))


def _jobs() -> dict:
    jobs = {}
    for path in JOB_FILES:
        jobs.update(yaml.safe_load(path.read_text())["resources"]["jobs"])
    return jobs


@pytest.mark.parametrize("name", sorted(_jobs()))
def test_each_job_passes_the_cli_schema(name):
    from databricks.bundles.jobs import Job

    Job.from_dict(_jobs()[name])   # raises on an unknown key, a wrong type or a value outside an enum


def test_the_schema_check_refuses_what_the_cli_refuses():
    from databricks.bundles.jobs import Job

    job = _jobs()["inference_logs_hourly"]
    for bad in ({**job, "max_concurent_runs": 1}, {**job, "queue": {"enabled": "sometimes"}},
                {**job, "schedule": {**job["schedule"], "pause_status": "MAYBE"}}):
        with pytest.raises((ValueError, TypeError)):
            Job.from_dict(bad)


def test_one_job_per_job_file_and_every_job_file_included():
    assert all(len(yaml.safe_load(path.read_text())["resources"]["jobs"]) == 1 for path in JOB_FILES)
    assert "jobs/*.job.yml" in BUNDLE["include"]


def test_a_production_target_sets_its_root_path():
    production = [target for target in BUNDLE["targets"].values() if target.get("mode") == "production"]
    assert production and all(target["workspace"]["root_path"] for target in production)


def test_development_mode_pauses_the_schedule():
    # the CLI pauses, in development mode, only a schedule whose pause_status is not set
    schedules = [job["schedule"] for job in _jobs().values() if "schedule" in job]
    assert schedules and all("pause_status" not in schedule for schedule in schedules)
    assert BUNDLE["targets"]["dev"]["mode"] == "development"


def test_an_overlapping_hourly_run_waits_instead_of_being_skipped():
    hourly = _jobs()["inference_logs_hourly"]
    assert hourly["max_concurrent_runs"] == 1 and hourly["queue"]["enabled"] is True


def test_every_task_has_a_timeout_so_a_stuck_run_cannot_hold_the_queue():
    from databricks.bundles.jobs import Job

    for name, job in _jobs().items():
        tasks = Job.from_dict(job).tasks
        assert tasks and all(isinstance(task.timeout_seconds, int) and task.timeout_seconds > 0 for task in tasks), name
    hourly = _jobs()["inference_logs_hourly"]["tasks"][0]
    assert hourly["timeout_seconds"] <= 3 * 3600   # a stuck hourly run delays at most a few queued runs
