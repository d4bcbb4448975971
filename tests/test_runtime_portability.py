"""The jobs run unchanged on Spark Connect (serverless, shared clusters): nothing in pipelines/
or jobs/ touches the SparkContext, the JVM, RDDs, caching or Delta's Python DeltaTable API (its
Connect plugin is not available everywhere; Delta is used through SQL and DataFrames)."""
import io
import tokenize
from pathlib import Path

import pytest

from pipelines.io.spark_session import STATIC_CONF

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
