"""One run at a time per set of output tables: a lease in a small Delta table.

A run takes the lease with a conditional ``MERGE`` (insert it, or take it over when it has
expired), and renews it every third of its duration while it runs. Two runs that try at once
both commit a MERGE on the same row; Delta's optimistic concurrency lets one win and fails the
other with a concurrent-modification error, which here means "not taken". The clock is the
Spark session's (``current_timestamp()``), so it works wherever the table lives: local paths,
object storage, Unity Catalog, classic Spark and Spark Connect alike. A killed run stops
renewing, and its lease is taken over once it expires.
"""
from __future__ import annotations

import os
import socket
import sys
import threading
import time

from pyspark.sql import SparkSession

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
    """The lease named ``lease`` in the Delta table at ``location``, for run ``run_id``."""

    def __init__(self, spark: SparkSession, location: str, lease: str, run_id: str, job: str,
                 wait_seconds: float = 0, lease_seconds: float = 300, poll_seconds: float = 2.0):
        self.spark, self.table = spark, TableLocation(location)
        self.lease, self.run_id, self.job = lease, run_id, job
        self.wait_seconds, self.lease_seconds, self.poll_seconds = wait_seconds, lease_seconds, poll_seconds
        #: Set when a renewal found the lease taken by another run (this run overran its lease).
        self.lost = False
        #: Whether this run took the lease and has not released it yet.
        self.held = False
        self._stop = threading.Event()
        self._renewer: threading.Thread | None = None

    def _claim(self, look_first: bool = False) -> bool | None:
        """One conditional MERGE: take the lease when free, expired or already ours. None when
        another run's commit conflicted with this one (try again). With ``look_first`` it reads the
        lease before and does not MERGE while another run holds it: a MERGE rewrites the lease's file
        even when it changes nothing, so a waiter that MERGEd every poll would keep failing the
        holder's renewal and release with conflicts."""
        if look_first and self._held_by_another_run():
            return False
        holder = f"{socket.gethostname()} pid {os.getpid()}"
        source = (f"SELECT {_sql_text(self.lease)} AS lease, {_sql_text(self.run_id)} AS run_id, "
                  f"{_sql_text(self.job)} AS job, {_sql_text(holder)} AS holder, current_timestamp() AS acquired_at, "
                  f"timestampadd(MILLISECOND, {int(self.lease_seconds * 1000)}, current_timestamp()) AS expires_at")
        try:
            merged = self.spark.sql(
                f"MERGE INTO {self.table.sql} t USING ({source}) s ON t.lease = s.lease "
                "WHEN MATCHED AND t.run_id = s.run_id THEN UPDATE SET t.expires_at = s.expires_at "
                "WHEN MATCHED AND t.expires_at < current_timestamp() THEN UPDATE SET * "
                "WHEN NOT MATCHED THEN INSERT *"
            ).first()
        except SPARK_ERRORS as exc:
            if not _conflict(exc):
                raise
            return None
        # A MERGE returns its own counts: it changed the lease's row exactly when one of its
        # clauses held, that is when the lease is now this run's (no second read of the table).
        return merged["num_affected_rows"] == 1

    def _lease_row(self):
        return delta_tables.read_table(self.spark, self.table).where(f"lease = {_sql_text(self.lease)}")

    def _held_by_another_run(self) -> bool:
        rows = self._lease_row().selectExpr("run_id", "expires_at >= current_timestamp() AS live").collect()
        return bool(rows) and rows[0]["run_id"] != self.run_id and bool(rows[0]["live"])

    def holder(self) -> dict:
        """The lease's row (empty when nobody holds it)."""
        rows = self._lease_row().collect()
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
        look_first = False  # the first ask MERGEs at once: the usual case is a free lease
        while not self._claim(look_first):
            look_first = True
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

    def release(self, attempts: int = 20) -> None:
        """Stop renewing and delete the lease (only if still this run's). A DELETE that conflicts
        with another run's commit is retried; if it never gets through, the lease is left to
        expire and a warning says so (the run's own work is done by then)."""
        self._stop.set()
        if self._renewer is not None:
            self._renewer.join()
        self.held = False
        for attempt in range(attempts):
            try:
                self.spark.sql(f"DELETE FROM {self.table.sql} WHERE lease = {_sql_text(self.lease)} "
                               f"AND run_id = {_sql_text(self.run_id)}")
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
