"""The run lease with two real processes asking at the same instant (classic, and through
Spark Connect in the Connect pass): Delta's optimistic concurrency lets exactly one win."""
import json
import subprocess
import sys
import time
from pathlib import Path

import pytest

from pipelines.io.delta_tables import TableLocation
from pipelines.io.run_lease import RunLease
from tests.test_hourly_job import make_config

pytestmark = pytest.mark.e2e
REPO = Path(__file__).resolve().parents[1]
HOLD_SECONDS = 8


def two_runs_at_once(tmp_path, wait_seconds):
    """Start two processes that ask for the lease at the same instant, once both have their Spark
    session; (code, stdout, stderr) each."""
    make_config(tmp_path)
    runs, errors = [], []
    for n in (1, 2):
        errors.append(open(tmp_path / f"run-{n}.stderr", "w+"))  # a file: a full pipe would block the run
        runs.append(subprocess.Popen([sys.executable, "-m", "tests.hold_lease", str(tmp_path / "conf.yaml"),
                                      f"run-{n}", str(HOLD_SECONDS), str(wait_seconds)],
                                     cwd=REPO, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=errors[-1], text=True))
    for run in runs:
        run.stdout.readline()  # "ready" (or nothing, from a run that failed first: its stderr says why)
    start_at = time.time() + 1
    for run in runs:
        if run.poll() is None:
            run.stdin.write(f"{start_at}\n")
            run.stdin.flush()
    outputs = [run.communicate(timeout=600)[0] for run in runs]
    results = []
    for run, out, err in zip(runs, outputs, errors):
        err.seek(0)
        results.append((run.returncode, out, err.read()))
        err.close()
    return results


def python_errors(results) -> str:
    """What went wrong in each process, short enough for pytest's message: its exit code, the
    last lines of its Python traceback and the JVM's first error and causes (log lines left out)."""
    reports = []
    for code, _, err in results:
        lines = err[err.find("Traceback"):].splitlines() if "Traceback" in err else err.splitlines()[-10:]
        causes = [line for line in lines if line.startswith(("Caused by", "java.", "org.", "io.delta"))]
        python = [line for line in lines if line not in causes
                  and (line.startswith(("  File", "Traceback")) or ": " in line[:120])]
        reports.append(f"exit {code}:\n" + "\n".join(python[-6:] + causes[:6])[:2500])
    return "\n\n".join(reports)


def test_two_runs_at_once_one_proceeds_and_the_other_is_refused_naming_it(spark, tmp_path):
    results = two_runs_at_once(tmp_path, wait_seconds=0)
    codes = sorted(code for code, _, _ in results)
    assert codes == [0, 4], python_errors(results)
    winner = next(json.loads(out)["run_id"] for code, out, _ in results if code == 0)
    refused = next(err for code, _, err in results if code == 4)
    assert "another run holds the lock" in refused and winner in refused
    lease = str(TableLocation(str(tmp_path / "request_logs")))
    assert RunLease(spark, str(tmp_path / "run_leases"), lease, "reader", "hourly").holder() == {}  # released


def test_a_run_that_may_wait_takes_the_lease_once_the_holder_releases_it(spark, tmp_path):
    results = two_runs_at_once(tmp_path, wait_seconds=120)
    assert [code for code, _, _ in results] == [0, 0], python_errors(results)
    first, second = sorted(json.loads(out)["taken_at"] for _, out, _ in results)
    assert second - first >= HOLD_SECONDS - 1  # one after the other, never both at once
