"""A write's own commit, found by its tag (classic, and through Spark Connect in the Connect pass)."""
import pytest

from pipelines.io.delta_tables import TableLocation, append, replace_where, tagged_commit, write_table

pytestmark = pytest.mark.e2e


def test_a_tagged_write_finds_its_own_commit_past_another_writers_and_an_empty_one_finds_none(spark, tmp_path):
    location = TableLocation(str(tmp_path / "table"))
    write_table(spark.range(3), location)
    append(spark.range(5), location, tag="five rows")
    append(spark.range(2), location)  # another writer commits after it
    found = tagged_commit(spark, location, "five rows")
    assert (found.version, found.operation, found.rows_written) == (1, "WRITE", 5)

    replace_where(spark.range(1), location, "id = 0", tag="one replaced")
    found = tagged_commit(spark, location, "one replaced")
    assert (found.version, found.rows_written) == (3, 1)  # what it wrote, less the rows it only copied

    append(spark.range(0), location, tag="no rows")  # no rows: no commit
    replace_where(spark.range(0), location, "id > 100", tag="nothing replaced")  # nor here
    assert tagged_commit(spark, location, "no rows") is None
    assert tagged_commit(spark, location, "nothing replaced") is None
