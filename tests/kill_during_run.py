"""Run a job and SIGKILL its process right after the n-th write to a table (fault tests).

    python -m tests.kill_during_run CONFIG {hourly|backfill} TABLE N

The job process itself is killed: on Spark Connect the hook runs in the server's Python
worker (foreachBatch), so it kills the job's process by its pid, then its own worker, which
fails the server-side batch as a dead driver would. Nothing is cleaned up: the lease, a
half-done micro-batch and an uncommitted checkpoint stay behind, as after a real kill. Exits 0
only when the run finished without reaching the kill point.
"""
import os
import signal
import sys

from pipelines.config import load_settings
from pipelines.io.spark_session import get_spark
from pipelines.runs.backfill import run_backfill
from pipelines.runs.hourly import run_hourly
from pipelines.runs.dates import DateRange


def main(config: str, job: str, table: str, occurrence: int) -> int:
    settings = load_settings(config)
    spark = get_spark(master="local[2]", app_name="kill-during-run", jars_cache=settings.spark.jars_cache,
                      conf={"spark.sql.shuffle.partitions": "2"})
    job_pid = os.getpid()
    writes = []

    def after_write(name: str) -> None:
        writes.append(name)
        if writes.count(table) == occurrence:
            os.kill(job_pid, signal.SIGKILL)
            os.kill(os.getpid(), signal.SIGKILL)

    if job == "hourly":
        run_hourly(spark, settings, after_write=after_write)
    else:
        run_backfill(spark, settings, DateRange(), after_write=after_write)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])))
