"""Run a few Spark actions at once, from threads of one session (classic Spark and Spark Connect
alike): a pass's planning, Delta commit and last tasks then overlap the others' work."""
from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Callable

from pyspark.sql import SparkSession
from pyspark.util import inheritable_thread_target


def in_parallel(spark: SparkSession, tasks: dict[str, Callable[[], object]]) -> dict[str, object]:
    """Run each task in its own thread and return their results by name. Returns only when every
    task has ended, so no write is still running when the caller moves on; then raises the first
    failure, in the order the tasks were given."""
    with ThreadPoolExecutor(max_workers=len(tasks), thread_name_prefix="inference-logs-pass") as pool:
        futures = {name: pool.submit(inheritable_thread_target(spark)(task)) for name, task in tasks.items()}
    # leaving the block waited for every task
    for future in futures.values():
        if future.exception() is not None:
            raise future.exception()
    return {name: future.result() for name, future in futures.items()}
