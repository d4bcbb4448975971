"""The run history (optional table ``tables.run_history``): one row per run, with its counts and
checks, appended when the run ends, failed or not."""
from __future__ import annotations

import datetime as dt
import json
import traceback

from pyspark.sql import SparkSession

from pipelines.config import Settings
from pipelines.io import delta_tables
from pipelines.io.delta_tables import TableLocation
from pipelines.runs.report import RunReport
from schemas.tables import RUN_HISTORY


def record_run(spark: SparkSession, settings: Settings, row: dict) -> None:
    if not settings.tables.run_history:
        return
    location = TableLocation(settings.tables.run_history)
    delta_tables.ensure_declared(spark, location, RUN_HISTORY)
    delta_tables.append(spark.createDataFrame([row], RUN_HISTORY.schema), location)


def history_row(run_id, job, started, status, source, report: RunReport, error) -> dict:
    return {
        "run_id": run_id, "job": job, "started_at": started, "ended_at": dt.datetime.now(dt.timezone.utc),
        "status": status, "source": source, "rows_read": report.rows_read,
        "rows_written": {"request_logs": report.request_logs_rows, "assessment_logs": report.assessment_rows,
                         "quarantine": report.quarantined_rows},
        "quarantined": report.quarantine_reasons, "duplicates_collapsed": report.duplicates_collapsed,
        "balanced": report.balanced, "checks": report.checks,
        "error": None if error is None else "".join(traceback.format_exception_only(type(error), error)).strip(),
        "report": json.dumps(report.as_dict(), sort_keys=True),
    }
