"""What the hourly stream's checkpoint says it has done, read without starting the stream.

A Structured Streaming checkpoint writes ``offsets/N`` when it plans batch N (a version line, the
batch's metadata, then one line per source: the offset the batch reads up to) and ``commits/N``
once the batch is done. The files are read as text with Spark, so the checkpoint can live
wherever the job's files do (a local path, a volume, object storage), on classic Spark and Spark
Connect alike.
"""
from __future__ import annotations

import json

from pyspark.sql import SparkSession
from pyspark.sql import functions as F

from pipelines.io.delta_tables import SPARK_ERRORS


def checkpoint_files(spark: SparkSession, checkpoint: str) -> dict[str, str] | None:
    """The checkpoint's offset and commit files, as ``{"offsets/N": text, "commits/N": text}``;
    None when it has none yet (or cannot be read: the hourly run then starts the stream, which
    says why)."""
    try:
        rows = (spark.read.text([f"{checkpoint}/offsets", f"{checkpoint}/commits"], wholetext=True)
                .select(F.col("_metadata.file_path").alias("path"), "value").collect())
    except SPARK_ERRORS:
        return None
    files = {}
    for row in rows:
        parts = row["path"].rstrip("/").split("/")
        files["/".join(parts[-2:])] = row["value"]
    return files


def last_committed_offset(files: dict[str, str] | None) -> dict | None:
    """The source offset (a JSON object) that the stream's last planned batch read up to, when that
    batch is committed and read one source; None otherwise (no checkpoint, a batch planned but not
    committed: a run in flight or interrupted, or another shape of checkpoint)."""
    if not files:
        return None
    planned = [int(name.split("/")[1]) for name in files if name.startswith("offsets/") and name.split("/")[1].isdigit()]
    if not planned:
        return None
    last = max(planned)
    if f"commits/{last}" not in files:
        return None
    lines = [line for line in files[f"offsets/{last}"].splitlines() if line.strip()]
    if len(lines) != 3:  # version, batch metadata, one source
        return None
    try:
        offset = json.loads(lines[2])
    except ValueError:
        return None
    return offset if isinstance(offset, dict) else None


def caught_up(offset: dict | None, table_id: str, latest_version: int) -> bool:
    """Whether a Delta source offset says every version of the table up to ``latest_version``, its
    latest, is read: an offset of ``(v + 1, index -1)`` (not in the table's first snapshot) means
    "all of version v read, nothing of v + 1 yet", so it must be ``latest_version + 1`` (versions
    never go back: beyond it, the checkpoint is not this table's). Anything else is not caught up
    (the run goes on and the stream decides)."""
    if not offset or offset.get("reservoirId") != table_id:
        return False
    version, index = offset.get("reservoirVersion"), offset.get("index")
    if not isinstance(version, int) or isinstance(version, bool) or index != -1:
        return False
    return offset.get("isStartingVersion") is False and version == latest_version + 1
