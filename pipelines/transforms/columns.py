"""Column expressions built once per process.

The expressions of the passes name their input columns and nothing else, so the same Column
objects serve every frame. Building them takes thousands of small calls (on classic Spark each
one is a call into the JVM): seconds per pass, paid again by every hourly micro-batch and every
backfill slice, when built per frame.
"""
from __future__ import annotations

import functools
from typing import Callable, TypeVar

from pyspark.sql import Column, DataFrame
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


def with_steps(df: DataFrame, steps: list[dict[str, Column]]) -> DataFrame:
    """``df`` with each step's columns added in turn (a step may use the columns of the ones before)."""
    return functools.reduce(lambda frame, step: frame.withColumns(step), steps, df)
