"""Through Spark Connect, a backfill and an hourly run write the same tables and print and
record the same counts as on classic Spark, from the same payload table. Runs in the Connect
pass only (``pytest --connect``): the classic side runs in a subprocess without SPARK_REMOTE."""
import json
import subprocess
import sys
from pathlib import Path

import pytest

from jobs.cli import main
from pipelines.io.delta_tables import TableLocation, read_table, write_table
from pipelines.io.spark_session import classic_environment
from pipelines.samples import sample_payloads as sp
from tests.test_hourly_job import OUTPUTS, make_config, payload, snapshot

pytestmark = [pytest.mark.e2e, pytest.mark.connect_only]
REPO = Path(__file__).resolve().parents[1]
VOLATILE = ("run_id",)


def classic_cli(*args) -> dict:
    env = classic_environment()
    run = subprocess.run([sys.executable, "-m", "jobs.cli", *args, "--json"], cwd=REPO, env=env,
                         capture_output=True, text=True, timeout=900)
    assert run.returncode == 0, run.stderr[-3000:]
    return json.loads(run.stdout)


def connect_cli(capsys, *args) -> dict:
    assert main([*args, "--json"]) == 0
    out = capsys.readouterr().out
    return json.loads(out)


def comparable(report: dict) -> dict:
    return {key: value for key, value in report.items() if key not in VOLATILE}


def history(spark, settings) -> list[dict]:
    runs = read_table(spark, TableLocation(settings.tables.run_history)).orderBy("started_at")
    return [{key: row[key] for key in ("job", "status", "rows_read", "rows_written", "quarantined",
                                       "duplicates_collapsed", "balanced", "checks")} for row in runs.collect()]


def test_backfill_and_hourly_through_connect_equal_classic(spark, tmp_path, capsys):
    rows = sp.payload_rows(300, seed=41, malformed_share=0.05)
    runs = {}
    for mode in ("classic", "connect"):
        (tmp_path / mode).mkdir()
        settings = make_config(tmp_path / mode)
        config = str(tmp_path / mode / "conf.yaml")
        write_table(payload(spark, rows[:200]), TableLocation(settings.tables.payload))
        cli = classic_cli if mode == "classic" else lambda *a: connect_cli(capsys, *a)
        backfill = cli("backfill", "--config", config)
        write_table(payload(spark, rows[200:]), TableLocation(settings.tables.payload), mode="append")
        hourly = cli("hourly", "--config", config)
        runs[mode] = {"reports": [comparable(backfill), comparable(hourly)], "tables": snapshot(spark, settings),
                      "history": history(spark, settings)}
    assert runs["connect"]["reports"] == runs["classic"]["reports"]
    assert runs["connect"]["history"] == runs["classic"]["history"]
    assert runs["connect"]["tables"] == runs["classic"]["tables"]
    assert runs["classic"]["reports"][1]["rows_read"] == 300  # hourly's first run reads the whole table
    assert all(runs["classic"]["tables"][name] for name in OUTPUTS)
