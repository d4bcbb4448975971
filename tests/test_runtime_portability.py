"""The jobs run unchanged on Spark Connect (serverless, shared clusters): nothing in pipelines/
or jobs/ touches the SparkContext, the JVM, RDDs, caching or Delta's Python DeltaTable API (its
Connect plugin is not available everywhere; Delta is used through SQL and DataFrames)."""
import io
import subprocess
import sys
import tokenize
from pathlib import Path

import pytest

from pipelines.io.spark_session import (ENGINE_CONF, SHORT_RUN_CONF, STATIC_CONF, STUCK_WORKER_SECONDS,
                                       classic_environment, local_session_conf)

REPO = Path(__file__).resolve().parents[1]
CLASSIC_ONLY = {"sparkContext", "SparkContext", "_jvm", "_jsc", "rdd", "persist", "unpersist", "cache", "DeltaTable"}


def code_names(path: Path) -> list[tuple[int, str]]:
    """The names a module's code uses (comments and strings left out), with their lines."""
    tokens = tokenize.generate_tokens(io.StringIO(path.read_text()).readline)
    return [(token.start[0], token.string) for token in tokens if token.type == tokenize.NAME]


@pytest.mark.parametrize("path", sorted(p.relative_to(REPO) for folder in ("pipelines", "jobs")
                                        for p in (REPO / folder).rglob("*.py")), ids=str)
def test_no_classic_only_api(path):
    found = [f"{path}:{line} {name}" for line, name in code_names(REPO / path) if name in CLASSIC_ONLY]
    assert not found, "classic-only Spark APIs (they fail on Spark Connect): " + ", ".join(found)


def test_the_check_sees_a_classic_only_call(tmp_path):
    sample = tmp_path / "sample.py"
    sample.write_text('"""persist in a docstring is fine"""\nspark.sparkContext.setLogLevel("ERROR")  # cache\n')
    assert [name for _, name in code_names(sample) if name in CLASSIC_ONLY] == ["sparkContext"]


def test_sessions_this_project_starts_keep_a_whole_run_of_generated_code(spark):
    # Spark keeps 100 generated classes by default; a run makes about 190, so every hourly run
    # compiled them all again. Static: only where the engine starts (local, the Connect server).
    for key, value in STATIC_CONF.items():
        assert spark.conf.get(key) == value


def _stuck(batches):
    import time

    for batch in batches:
        time.sleep(20)
        yield batch


def test_a_python_worker_that_stops_answering_is_killed_and_its_job_fails_instead_of_hanging(spark):
    idle, kill = "spark.sql.execution.pyspark.udf.idleTimeoutSeconds", "spark.sql.execution.pyspark.udf.killOnIdleTimeout"
    assert (ENGINE_CONF[idle], ENGINE_CONF[kill]) == (str(STUCK_WORKER_SECONDS), "true")
    assert (spark.conf.get(idle), spark.conf.get(kill)) == (str(STUCK_WORKER_SECONDS), "true")
    spark.conf.set(idle, "2")  # the same settings, with a timeout a test can wait for
    try:
        with pytest.raises(Exception, match="(?i)idle|crash"):
            spark.range(1).mapInArrow(_stuck, "id long").collect()
    finally:
        spark.conf.set(idle, str(STUCK_WORKER_SECONDS))


def test_a_short_run_asks_for_the_quick_compiler_and_a_configs_setting_wins():
    options = SHORT_RUN_CONF["spark.driver.extraJavaOptions"]
    assert local_session_conf({}, ["delta.jar"], short_run=True)["spark.driver.extraJavaOptions"] == options
    assert "spark.driver.extraJavaOptions" not in local_session_conf({}, ["delta.jar"])  # a backfill, the tests
    mine = {"spark.driver.extraJavaOptions": "-Xss4m"}
    assert local_session_conf(mine, ["delta.jar"], short_run=True)["spark.driver.extraJavaOptions"] == "-Xss4m"


def test_a_short_runs_jvm_starts_with_those_options(tmp_path):
    # a fresh process, as a scheduler starts an hourly run: the options reach the JVM itself
    script = ("from pipelines.io.spark_session import get_spark\n"
              "spark = get_spark(short_run=True)\n"
              "bean = spark.sparkContext._jvm.java.lang.management.ManagementFactory.getRuntimeMXBean()\n"
              "print('JVM', ' '.join(bean.getInputArguments()))\n")
    run = subprocess.run([sys.executable, "-c", script], cwd=REPO, env=classic_environment(),
                         capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr[-3000:]
    arguments = next(line for line in run.stdout.splitlines() if line.startswith("JVM ")).split()
    assert set(SHORT_RUN_CONF["spark.driver.extraJavaOptions"].split()) <= set(arguments)
