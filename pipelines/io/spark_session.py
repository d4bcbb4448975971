"""Get the SparkSession, the same way on every runtime.

In order of preference: the active session (a Databricks job, notebook or serverless task, or
spark-submit), a Spark Connect session when an endpoint is named (``SPARK_REMOTE``, or
``spark.remote`` in the config: ``sc://host:port`` or ``databricks`` for Databricks Connect),
else a local classic session with Delta Lake, whose jars come from a per-user cache that
:func:`fetch_delta_jars` fills once from Maven Central.

Nothing here uses the SparkContext or the JVM: the code runs unchanged on Spark Connect.
"""
from __future__ import annotations

import glob
import os
import shutil
import subprocess
import sys
import tempfile
from importlib import metadata
from pathlib import Path

from pyspark.sql import SparkSession

#: The Spark settings Databricks serverless lets a session change at runtime (its documented
#: allow-list). On a Spark Connect session only these are set; the Connect test pass refuses
#: any other, as serverless does.
RUNTIME_SETTABLE = frozenset({
    "spark.sql.session.timeZone",
    "spark.sql.legacy.timeParserPolicy",
    "spark.sql.shuffle.partitions",
    "spark.sql.ansi.enabled",
    "spark.sql.files.maxPartitionBytes",
    "spark.databricks.execution.timeout",
})

#: What every run needs, on any runtime: UTC dates.
RUNTIME_CONF = {
    "spark.sql.session.timeZone": "UTC",
}

#: Seconds without a word from a Python worker after which it is taken for stuck and killed.
STUCK_WORKER_SECONDS = 300

#: Engine settings for the classic runtimes (local, spark-submit, job clusters): small Parquet
#: batches for wide rows (payload rows average 10 KiB, up to 10 MiB; with 4,096-row batches a
#: 200k-row backfill ran a 2 GB driver out of memory), and the Arrow batches the rules receive
#: bounded in rows and bytes, with 64-bit offsets (measured: 1,000-row batches of large strings
#: move the bodies to Python and back in two thirds of the time of 10,000-row ones). A Connect
#: session cannot set them: put them in the server's or cluster's Spark config (the test server
#: gets them at start); serverless manages its own.
ENGINE_CONF = {
    "spark.sql.parquet.columnarReaderBatchSize": "256",
    "spark.sql.execution.arrow.maxRecordsPerBatch": "1000",
    "spark.sql.execution.arrow.maxBytesPerBatch": str(64 << 20),
    "spark.sql.execution.arrow.useLargeVarTypes": "true",
    # A Python worker that sends nothing for this long is stuck (a batch takes well under a
    # second): kill it, so that its task, and the run, fails and is retried instead of hanging.
    # Seen on pyspark 4.2.0: now and then a worker blocks writing its output while the task
    # waits to read it, and neither ever returns (docs/operations.md).
    "spark.sql.execution.pyspark.udf.idleTimeoutSeconds": str(STUCK_WORKER_SECONDS),
    "spark.sql.execution.pyspark.udf.killOnIdleTimeout": "true",
}

#: Engine settings fixed when the engine starts: set where this project starts it (local
#: sessions, the Connect test server); on a cluster they belong in its Spark config. A run
#: compiles about 190 distinct generated classes (the three passes, the MERGEs, Delta's own
#: jobs) and Spark keeps 100: every hourly run compiled about 290 of them again (5 s of 21 s
#: for 1,000 rows) and ran them cold. With 1,000 kept, a warm process compiles about 18 a run.
STATIC_CONF = {
    "spark.sql.codegen.cache.maxEntries": "1000",
}

#: Java options for the JVM of a short run that this project starts (an hourly job's local
#: session): the quick compiler only (C1), with room for all of its code (C1 alone reserves
#: 48 MB, which a backfill filled, and then ran uncompiled). A fresh process runs mostly cold
#: code, and on a small machine the optimizing compiler's (C2) threads take the cores the run
#: needs: on 2 cores an hourly process took 0.78 of its time. A long session gains from C2
#: (the test suite's took 1.3 times as long without it), so backfills and the tests keep both
#: compilers (docs/benchmark.md). A config's ``spark.conf`` entry for the same key wins; under
#: spark-submit or on a cluster the JVM is already started, with its own options.
SHORT_RUN_CONF = {
    "spark.driver.extraJavaOptions": "-XX:TieredStopAtLevel=1 -XX:ReservedCodeCacheSize=240m",
}

DELTA_CONF = {
    "spark.sql.extensions": "io.delta.sql.DeltaSparkSessionExtension",
    "spark.sql.catalog.spark_catalog": "org.apache.spark.sql.delta.catalog.DeltaCatalog",
}

LOCAL_CONF = {
    "spark.ui.enabled": "false",
    "spark.ui.showConsoleProgress": "false",
    "spark.log.level": "ERROR",
    "spark.sql.shuffle.partitions": "4",
    # Delta replays its log over 50 partitions by default: far too many for one machine.
    "spark.databricks.delta.snapshotPartitions": "2",
    "spark.driver.memory": "2g",
}


def default_jars_cache() -> Path:
    """One cache per user, whatever the working directory: $XDG_CACHE_HOME or ~/.cache."""
    root = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(root) / "inference-logs" / "spark-jars"


def delta_maven_coordinate() -> str:
    """The Delta jar matching the installed pyspark and delta-spark (as delta's own pip helper
    names it)."""
    import pyspark

    spark_minor = ".".join(pyspark.__version__.split(".")[:2])
    return f"io.delta:delta-spark_{spark_minor}_2.13:{metadata.version('delta-spark')}"


def cached_jars(cache_dir: str | os.PathLike) -> list[str]:
    """The cached jars, when the cache is complete and holds the Delta version installed."""
    marker = Path(cache_dir) / ".complete"
    if not marker.exists() or marker.read_text().strip() != delta_maven_coordinate():
        return []
    return sorted(glob.glob(str(Path(cache_dir) / "*.jar")))


def fetch_delta_jars(cache_dir: str | os.PathLike | None = None) -> list[str]:
    """Resolve the Delta jar and its dependencies from Maven Central into ``cache_dir`` (once).

    Spark's own Ivy resolver does the download, in a separate Python process: a JVM that
    resolved packages keeps their temporary paths, so this process's own session (started
    right after, from the cache) must not share it.
    """
    directory = Path(cache_dir or default_jars_cache())
    if jars := cached_jars(directory):
        return jars
    directory.mkdir(parents=True, exist_ok=True)
    for stale in glob.glob(str(directory / "*.jar")):  # an incomplete fetch, or another Delta version
        os.remove(stale)
    subprocess.run([sys.executable, "-m", "pipelines.io.spark_session", str(directory)], check=True,
                   env={**classic_environment(), "PYTHONPATH": _project_root()})
    if not glob.glob(str(directory / "io.delta_delta-spark_*.jar")):
        raise RuntimeError(f"Delta jars were not resolved into {directory}; is Maven Central reachable?")
    (directory / ".complete").write_text(delta_maven_coordinate() + "\n")
    return cached_jars(directory)


def classic_environment() -> dict[str, str]:
    """This process's environment without what points a new process at Spark Connect."""
    return {key: value for key, value in os.environ.items()
            if key not in ("SPARK_REMOTE", "SPARK_CONNECT_MODE_ENABLED", "SPARK_LOCAL_REMOTE")}


def _project_root() -> str:
    root = str(Path(__file__).resolve().parents[2])
    return os.pathsep.join(filter(None, [root, os.environ.get("PYTHONPATH")]))


def _resolve_into(directory: str) -> None:
    """In a throwaway process: let Spark's Ivy resolve the Delta package, copy the jars."""
    with tempfile.TemporaryDirectory(prefix="ivy-") as ivy_home:
        session = (
            SparkSession.builder.master("local[1]")
            .appName("inference-logs-fetch-jars")
            .config("spark.jars.packages", delta_maven_coordinate())
            .config("spark.jars.ivy", ivy_home)
            .config("spark.jars.repositories", "https://repo1.maven.org/maven2")
            .config("spark.ui.enabled", "false")
            .getOrCreate()
        )
        session.stop()
        for jar in glob.glob(os.path.join(ivy_home, "jars", "*.jar")):
            shutil.copy2(jar, directory)


def is_connect(session: SparkSession) -> bool:
    """Whether the session is a Spark Connect client (serverless, shared clusters, Databricks
    Connect, a Spark Connect server) rather than a classic driver."""
    return type(session).__module__.startswith(("pyspark.sql.connect", "databricks.connect"))


def apply_runtime_conf(session: SparkSession, conf: dict[str, str]) -> None:
    """Set ``conf`` on a running session: everything on a classic driver, only the platform's
    runtime allow-list on Spark Connect (the rest belongs in the server's Spark config)."""
    connect = is_connect(session)
    for key, value in conf.items():
        if not connect or key in RUNTIME_SETTABLE:
            session.conf.set(key, value)


def _remote_session(remote: str) -> SparkSession:
    if remote == "databricks":
        from databricks.connect import DatabricksSession  # databricks-connect, installed instead of pyspark

        return DatabricksSession.builder.getOrCreate()
    return SparkSession.builder.remote(remote).getOrCreate()


def get_spark(
    master: str = "local[2]",
    app_name: str = "inference-logs",
    jars_cache: str | os.PathLike | None = None,
    conf: dict[str, str] | None = None,
    remote: str | None = None,
    short_run: bool = False,
) -> SparkSession:
    """The active session, else a Spark Connect session (``SPARK_REMOTE`` or ``remote``), else a
    local session with Delta Lake. ``conf`` is applied as :func:`apply_runtime_conf` allows.
    ``short_run``: a local session's JVM gets :data:`SHORT_RUN_CONF`."""
    wanted = {**RUNTIME_CONF, **ENGINE_CONF, **(conf or {})}
    session = SparkSession.getActiveSession()
    remote = os.environ.get("SPARK_REMOTE") or remote
    if session is None and remote:
        session = _remote_session(remote)
    if session is not None:
        apply_runtime_conf(session, wanted)
        return session
    jars = cached_jars(jars_cache or default_jars_cache()) or fetch_delta_jars(jars_cache)
    # the rules run in Python workers: this interpreter, which has the project and msgspec
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    builder = SparkSession.builder.master(master).appName(app_name)
    for key, value in local_session_conf(wanted, jars, short_run).items():
        builder = builder.config(key, value)
    return builder.getOrCreate()


def local_session_conf(wanted: dict[str, str], jars: list[str], short_run: bool = False) -> dict[str, str]:
    """Every setting of a local session; ``wanted`` (the project's runtime settings and a
    config's ``spark.conf``) wins over the defaults."""
    # tables created by name go to a per-user warehouse, not into the working directory
    warehouse = {"spark.sql.warehouse.dir": str(default_jars_cache().parent / "spark-warehouse")}
    short = SHORT_RUN_CONF if short_run else {}
    return {**LOCAL_CONF, **short, **STATIC_CONF, **DELTA_CONF, **warehouse, **wanted, "spark.jars": ",".join(jars)}


if __name__ == "__main__":
    _resolve_into(sys.argv[1])
