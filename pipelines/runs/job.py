"""The frame of every run: hold the lease, check and create the output tables, run the job's
body, keep the latest feedback, record the run, release the lease."""
from __future__ import annotations

import datetime as dt
import uuid
from typing import Callable

from pyspark.sql import SparkSession

from pipelines.config import Settings
from pipelines.io.run_lease import RunLease
from pipelines.runs.latest_feedback import refresh_latest_feedback
from pipelines.runs.outputs import OutputTables, ensure_output_tables
from pipelines.runs.parallel import in_parallel
from pipelines.runs.report import RunReport
from pipelines.runs.run_history import history_row, record_run


def _outcome(function: Callable[[], object]) -> tuple[object, Exception | None]:
    try:
        return function(), None
    except Exception as exc:  # noqa: BLE001 - handed back to the caller, which raises it
        return None, exc


def run_job(job: str, spark: SparkSession, settings: Settings, body: Callable[[OutputTables, str, object], tuple[RunReport, str]],
            incremental: bool = False, prepare: Callable[[], object] | None = None) -> RunReport:
    """Hold the lease, check and create the output tables, run ``body(outputs, run_id, prepared)``,
    refresh the latest feedback (``incremental``: from the dates the run read only) and record
    the run.

    ``prepare()`` (optional; its result is ``prepared``) looks at the payload and writes nothing:
    when the payload table is configured it runs while the lease is being taken, so the run does
    not wait for one and then the other (when it is not, the sample table it may have to write
    first is written under the lease). Once the outputs are written, the lease is released while
    the run history's row is appended (appends never conflict with another run's)."""
    outputs = OutputTables.from_settings(settings)
    run_id = str(uuid.uuid4())
    started = dt.datetime.now(dt.timezone.utc)
    lease = None
    if settings.state is not None:
        state = settings.state
        lease = RunLease(spark, state.lock, str(outputs["request_logs"]), run_id, job,
                         state.lock_wait_seconds, state.lease_seconds)
    early = prepare is not None and bool(settings.tables.payload)
    try:
        ahead = {"lease": lease.acquire} if lease is not None else {}
        if early:  # its failure is raised below, where a failed run is recorded
            ahead["prepared"] = lambda: _outcome(prepare)
        done = in_parallel(spark, ahead) if ahead else {}
        ensure_output_tables(spark, outputs)
        try:
            if early:
                prepared, error = done["prepared"]
                if error is not None:
                    raise error
            else:
                prepared = prepare() if prepare is not None else None
            report, source = body(outputs, run_id, prepared)
        except Exception as exc:
            record_run(spark, settings, history_row(run_id, job, started, "failed", "", RunReport(), exc))
            raise
        refresh_latest_feedback(spark, settings, outputs, report.dates if incremental else None)
        if lease is not None and lease.lost:  # another run took the lease over: this one overran it
            report.checks["lease_held_throughout"] = False
        status = "succeeded" if report.ok else "reconciliation_failed"
        row = history_row(run_id, job, started, status, source, report, None)
        in_parallel(spark, {"history": lambda: record_run(spark, settings, row),
                            **({"release": lease.release} if lease is not None else {})})
        report.run_id = run_id
        return report
    finally:
        if lease is not None and lease.held:
            lease.release()
