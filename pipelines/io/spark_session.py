"""Build (or reuse) the SparkSession with Delta Lake.

On a cluster that already has a session (Databricks, or spark-submit with the Delta package),
that session is reused. Locally, the Delta jars come from a cache directory that
:func:`fetch_delta_jars` fills once from Maven Central; later sessions start offline.
"""
from __future__ import annotations

import glob
import os
import shutil
import tempfile
from importlib import metadata
from pathlib import Path

from pyspark.sql import SparkSession

#: Settings every run needs, on any cluster: UTC dates, JSON bodies with repeated keys, and
#: small batches for wide rows. Payload rows average 10 KiB (up to 10 MiB) and classified rows
#: carry both bodies and the trace; with Spark's default batches (4,096 rows per Parquet read,
#: 10,000 per cached batch) a 200k-row backfill ran a 2 GB driver out of memory (these batches
#: are one of the changes that fixed it; see README "Benchmark").
RUNTIME_CONF = {
    "spark.sql.session.timeZone": "UTC",
    "spark.sql.variant.allowDuplicateKeys": "true",
    "spark.sql.parquet.columnarReaderBatchSize": "256",
    "spark.sql.inMemoryColumnarStorage.batchSize": "500",
}

DELTA_CONF = {
    "spark.sql.extensions": "io.delta.sql.DeltaSparkSessionExtension",
    "spark.sql.catalog.spark_catalog": "org.apache.spark.sql.delta.catalog.DeltaCatalog",
}

LOCAL_CONF = {
    "spark.ui.enabled": "false",
    "spark.ui.showConsoleProgress": "false",
    "spark.sql.shuffle.partitions": "4",
    # Delta replays its log over 50 partitions by default: far too many for one machine.
    "spark.databricks.delta.snapshotPartitions": "2",
    "spark.driver.memory": "2g",
}


def delta_maven_coordinate() -> str:
    """The Delta jar matching the installed pyspark and delta-spark (as delta's own pip helper
    names it)."""
    import pyspark

    spark_minor = ".".join(pyspark.__version__.split(".")[:2])
    return f"io.delta:delta-spark_{spark_minor}_2.13:{metadata.version('delta-spark')}"


def cached_jars(cache_dir: str | os.PathLike) -> list[str]:
    directory = Path(cache_dir)
    if not (directory / ".complete").exists():
        return []
    return sorted(glob.glob(str(directory / "*.jar")))


def fetch_delta_jars(cache_dir: str | os.PathLike) -> list[str]:
    """Resolve the Delta jar and its dependencies from Maven Central into ``cache_dir`` (once).

    Spark's own Ivy resolver does the download in a throwaway local session; the jars are then
    copied into the cache, which later sessions put on the classpath with no network.
    """
    directory = Path(cache_dir)
    if jars := cached_jars(directory):
        return jars
    directory.mkdir(parents=True, exist_ok=True)
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
    if not glob.glob(str(directory / "io.delta_delta-spark_*.jar")):
        raise RuntimeError(f"Delta jars were not resolved into {directory}; is Maven Central reachable?")
    (directory / ".complete").write_text(delta_maven_coordinate() + "\n")
    return cached_jars(directory)


def get_spark(
    master: str = "local[2]",
    app_name: str = "inference-logs",
    jars_cache: str | os.PathLike = ".cache/spark-jars",
    conf: dict[str, str] | None = None,
) -> SparkSession:
    """The active session when there is one, else a local session with Delta Lake."""
    active = SparkSession.getActiveSession()
    if active is not None:
        for key, value in {**RUNTIME_CONF, **(conf or {})}.items():
            active.conf.set(key, value)
        return active
    builder = SparkSession.builder.master(master).appName(app_name)
    jars = cached_jars(jars_cache) or fetch_delta_jars(jars_cache)
    settings = {**LOCAL_CONF, **DELTA_CONF, **RUNTIME_CONF, **(conf or {}), "spark.jars": ",".join(jars)}
    for key, value in settings.items():
        builder = builder.config(key, value)
    session = builder.getOrCreate()
    session.sparkContext.setLogLevel("ERROR")
    return session
