"""One run at a time per set of output tables: a lease in a small Delta table.

The table records each run's asks as rows: a run takes the lease by appending a row that lasts
``lease_seconds`` (renewing appends another every third of that), and releases it by appending
a row that has already expired. A run holds the lease while its latest row has not expired. The
append that takes the lease reads the table in the same Delta transaction and adds its row only
when no other run holds it, so it is not a blind append: of two runs that ask at once, Delta's
optimistic concurrency fails the second commit with a conflict, which here means "not taken,
ask again". An ask that finds the lease held appends no row and makes no commit, so a waiting
run never disturbs the holder. The clock is the Spark session's (``current_timestamp()``), so
it works wherever the table lives: local paths, object storage, Unity Catalog, classic Spark and
Spark Connect alike. A killed run stops renewing; its lease is taken over once it expires.
Appends are a Delta table's cheapest commit (a MERGE or a DELETE first finds and rewrites
files); the rows of finished runs are deleted now and then, by a release (``keep_runs``).
"""
from __future__ import annotations

import os
import socket
import sys
import threading
import time

from pyspark.sql import Observation, SparkSession
from pyspark.sql import functions as F

from pipelines.errors import RunLockedError, TableError
from pipelines.io import delta_tables
from pipelines.io.delta_tables import SPARK_ERRORS, TableLocation
from schemas.run_state import RUN_LEASES

#: Delta's optimistic-concurrency failures: another transaction committed first.
_CONFLICTS = ("DELTA_CONCURRENT", "Concurrent", "MetadataChanged", "ProtocolChanged", "DELTA_METADATA_CHANGED",
              "DELTA_PROTOCOL_CHANGED")


def _conflict(exc: Exception) -> bool:
    return any(marker in str(exc) for marker in _CONFLICTS)


def _sql_text(value: str) -> str:
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


class RunLease:
    """The lease named ``lease`` in the Delta table at ``location``, for run ``run_id``.
    ``keep_runs``: a release deletes the rows of finished runs once the lease has rows of more
    runs than this."""

    def __init__(self, spark: SparkSession, location: str, lease: str, run_id: str, job: str,
                 wait_seconds: float = 0, lease_seconds: float = 300, poll_seconds: float = 2.0,
                 keep_runs: int = 50):
        self.spark, self.table = spark, TableLocation(location)
        self.lease, self.run_id, self.job = lease, run_id, job
        self.wait_seconds, self.lease_seconds, self.poll_seconds = wait_seconds, lease_seconds, poll_seconds
        self.keep_runs = keep_runs
        #: Set when a renewal found the lease taken by another run (this run overran its lease).
        self.lost = False
        #: Whether this run took the lease and has not released it yet.
        self.held = False
        #: How many runs had rows for this lease when this run took it.
        self._runs_seen = 0
        self._stop = threading.Event()
        self._renewer: threading.Thread | None = None

    def _row(self, expires_after_ms: int) -> list[str]:
        """SQL columns: this run's row, expiring ``expires_after_ms`` after now."""
        holder = f"{socket.gethostname()} pid {os.getpid()}"
        return [f"{_sql_text(self.lease)} AS lease", f"{_sql_text(self.run_id)} AS run_id",
                f"{_sql_text(self.job)} AS job", f"{_sql_text(holder)} AS holder",
                "current_timestamp() AS acquired_at",
                f"timestampadd(MILLISECOND, {expires_after_ms}, current_timestamp()) AS expires_at"]

    def _runs_sql(self) -> str:
        """SQL: each run with rows for this lease, and when its latest row expires."""
        return (f"SELECT run_id, min(acquired_at) AS acquired_at, max_by(job, acquired_at) AS job, "
                f"max_by(holder, acquired_at) AS holder, max_by(expires_at, acquired_at) AS expires_at "
                f"FROM {self.table.sql} WHERE lease = {_sql_text(self.lease)} GROUP BY run_id")

    def _claim(self) -> bool | None:
        """One conditional append: this run's row, added only when no other run holds the lease
        (free, expired, released or already this run's), in the transaction that read the
        table. True: the lease is this run's; False: another run holds it (nothing appended, no
        commit); None: another run's commit conflicted with this one (ask again)."""
        seen = Observation(f"lease_{self.run_id}")
        others = (self.spark.sql(f"SELECT count(*) AS runs, count_if(run_id <> {_sql_text(self.run_id)} "
                                 f"AND expires_at > current_timestamp()) AS holders FROM ({self._runs_sql()})")
                  .observe(seen, F.max("runs").alias("runs"), F.max("holders").alias("holders")))
        row = others.where("holders = 0").selectExpr(*self._row(int(self.lease_seconds * 1000)))
        try:
            delta_tables.append(row, self.table)
        except SPARK_ERRORS as exc:
            if not _conflict(exc):
                raise
            return None
        self._runs_seen = int(seen.get["runs"])
        return int(seen.get["holders"]) == 0

    def holder(self) -> dict:
        """The run that holds the lease: its run id, job, holder, when it took the lease and
        when it expires unless renewed (empty when nobody holds it)."""
        rows = self.spark.sql(f"SELECT * FROM ({self._runs_sql()}) WHERE expires_at > current_timestamp()").collect()
        return rows[0].asDict() if rows else {}

    def _ensure_table(self, attempts: int = 5) -> None:
        """Create the lease table when missing. Two runs may create it at the same instant (the
        first runs anywhere), and one may look while the other's creation is half done: retried."""
        for attempt in range(attempts):
            try:
                delta_tables.ensure_table(self.spark, self.table, RUN_LEASES)
                return
            except (TableError, *SPARK_ERRORS):
                if attempt == attempts - 1:
                    raise
                time.sleep(self.poll_seconds)

    def acquire(self) -> None:
        """Take the lease, waiting up to ``wait_seconds``; RunLockedError names the holder."""
        self._ensure_table()
        deadline = time.monotonic() + self.wait_seconds
        while not self._claim():
            if time.monotonic() >= deadline:
                holder = self.holder()
                raise RunLockedError(
                    f"another run holds the lock on {self.lease} (lease table {self.table}): "
                    f"{holder.get('job', '?')} run {holder.get('run_id', '?')} from {holder.get('holder', '?')}, "
                    f"since {holder.get('acquired_at', '?')}, until {holder.get('expires_at', '?')} unless renewed. "
                    "Wait for it to finish (or pass --wait-seconds); a run that died loses its lease when it expires."
                )
            time.sleep(self.poll_seconds)
        self.held = True
        self._renewer = threading.Thread(target=self._renew, name="run-lease-renewal", daemon=True)
        self._renewer.start()

    def _renew(self) -> None:
        period = self.lease_seconds / 3
        while not self._stop.wait(period):
            try:
                held = self._claim()
            except Exception:  # noqa: BLE001 - retried next period; the lease outlives two failures
                continue
            if held is False:
                self.lost = True
                return
            period = self.poll_seconds if held is None else self.lease_seconds / 3

    def _forget_finished_runs(self) -> None:
        """Delete the rows of the runs whose latest row has expired (finished, released or
        dead), while this run still holds the lease: no other run adds rows meanwhile."""
        finished = [row["run_id"] for row in self.spark.sql(
            f"SELECT run_id FROM ({self._runs_sql()}) WHERE run_id <> {_sql_text(self.run_id)} "
            "AND expires_at <= current_timestamp()").collect()]
        if finished:
            self.spark.sql(f"DELETE FROM {self.table.sql} WHERE lease = {_sql_text(self.lease)} "
                           f"AND run_id IN ({', '.join(map(_sql_text, finished))})")

    def release(self, attempts: int = 20) -> None:
        """Stop renewing and append this run's release: a row that has already expired. When the
        lease has rows of more than ``keep_runs`` runs, the finished runs' rows are deleted
        first. An append that conflicts with another run's commit is retried; if it never gets
        through, the lease is left to expire and a warning says so (the run's own work is done
        by then)."""
        self._stop.set()
        if self._renewer is not None:
            self._renewer.join()
        if self.held and self._runs_seen > self.keep_runs:
            try:
                self._forget_finished_runs()
            except SPARK_ERRORS as exc:  # tidying only: the next release tries again
                print(f"warning: could not delete the finished runs' rows of {self.lease} (lease table "
                      f"{self.table}): {exc}", file=sys.stderr)
        self.held = False
        for attempt in range(attempts):
            try:
                delta_tables.append(self.spark.sql(f"SELECT {', '.join(self._row(0))}"), self.table)
                return
            except SPARK_ERRORS as exc:
                if not _conflict(exc):
                    raise
                time.sleep(self.poll_seconds * min(attempt + 1, 5))
        print(f"warning: could not release the lease on {self.lease} (lease table {self.table}) after "
              f"{attempts} conflicting attempts; it expires at its expires_at", file=sys.stderr)

    def __enter__(self) -> "RunLease":
        self.acquire()
        return self

    def __exit__(self, *exc) -> None:
        self.release()
