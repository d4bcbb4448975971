"""Column expressions built once per process.

The run's counts (:mod:`pipelines.runs.report`) name their input columns and nothing else, so
the same Column objects serve every frame. Building them takes hundreds of small calls (on
classic Spark each one is a call into the JVM), paid again by every hourly micro-batch and
every backfill slice when built per frame.
"""
from __future__ import annotations

import functools
from typing import Callable, TypeVar

from pyspark.sql.utils import is_remote

T = TypeVar("T")


def built_once(builder: Callable[[], T]) -> Callable[[], T]:
    """``builder()``, called once per runtime (classic or Spark Connect Columns) and kept."""
    built: dict[bool, T] = {}

    @functools.wraps(builder)
    def cached() -> T:
        runtime = is_remote()
        if runtime not in built:
            built[runtime] = builder()
        return built[runtime]

    return cached
