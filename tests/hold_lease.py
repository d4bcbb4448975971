"""Take a run lease at a given instant and hold it (the two-process lease test).

    python -m tests.hold_lease CONFIG RUN_ID HOLD_SECONDS WAIT_SECONDS

Prints "ready" once its Spark session is up, then reads the instant to ask at (epoch seconds, one
line on stdin), so that two processes ask at the same moment; takes the lease on the config's
request-logs table, holds it HOLD_SECONDS and releases it. Prints one JSON line then:
{"run_id", "taken_at"} on success; exits 4 with the error on stderr when refused.
"""
import json
import sys
import time

from jobs.cli import spark_for
from pipelines.config import load_settings
from pipelines.errors import RunLockedError
from pipelines.io.delta_tables import TableLocation
from pipelines.io.run_lease import RunLease


def main(config: str, run_id: str, hold: float, wait: float) -> int:
    settings = load_settings(config)
    spark = spark_for(settings)
    lease = RunLease(spark, settings.state.lock, str(TableLocation(settings.tables.request_logs)), run_id,
                     "hourly", wait_seconds=wait, lease_seconds=settings.state.lease_seconds, poll_seconds=0.5)
    print("ready", flush=True)
    start_at = float(sys.stdin.readline())
    time.sleep(max(0.0, start_at - time.time()))
    try:
        lease.acquire()
    except RunLockedError as exc:
        print(exc, file=sys.stderr)
        return exc.exit_code
    print(json.dumps({"run_id": run_id, "taken_at": time.time()}), flush=True)
    time.sleep(hold)
    lease.release()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2], float(sys.argv[3]), float(sys.argv[4])))
