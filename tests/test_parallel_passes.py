"""A run's passes run at once, each in its own thread (outputs.in_parallel), on classic Spark and
through Spark Connect."""
import threading
import time

import pytest

from pipelines.runs.parallel import in_parallel

pytestmark = pytest.mark.e2e


def test_each_task_runs_its_own_spark_job_and_its_result_comes_back_by_name(spark):
    results = in_parallel(spark, {
        "small": lambda: spark.range(10).count(),
        "sum": lambda: spark.range(100).selectExpr("sum(id) AS total").first()["total"],
        "plain": lambda: "no spark",
    })
    assert results == {"small": 10, "sum": 4950, "plain": "no spark"}


def test_tasks_overlap_in_time(spark):
    started = threading.Barrier(2, timeout=10)  # each task waits until the other has started
    assert in_parallel(spark, {"a": started.wait, "b": started.wait}).keys() == {"a", "b"}


def test_a_failure_is_raised_only_once_every_task_has_ended(spark):
    ended = []

    def slow_write():
        time.sleep(1)
        spark.range(5).count()
        ended.append("slow")

    def fail(message):
        raise RuntimeError(message)

    with pytest.raises(RuntimeError, match="first"):
        in_parallel(spark, {"a": slow_write, "b": lambda: fail("first"), "c": lambda: fail("second")})
    assert ended == ["slow"]  # the slow task had finished when the failure reached the caller
