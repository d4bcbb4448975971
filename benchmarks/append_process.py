"""A plain Delta append in a process of its own: the yardstick of the benchmark's whole-process
figures (what a scheduler pays to append N rows: the process, the session, the first Delta read
and the commit), its JVM started as an hourly run's is.

    .venv/bin/python -m benchmarks.append_process SOURCE_TABLE TARGET_TABLE
"""
from __future__ import annotations

import sys

from pipelines.io.delta_tables import TableLocation, append, read_table
from pipelines.io.spark_session import get_spark


def main(argv: list[str]) -> int:
    source, target = argv
    spark = get_spark(app_name="inference-logs-append", short_run=True)  # started as an hourly run is
    append(read_table(spark, TableLocation(source)), TableLocation(target))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
