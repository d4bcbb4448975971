"""What the stream's checkpoint says it has read: case tables without Spark, then one real
checkpoint read by Spark."""
import json

import pytest

from pipelines.io.stream_checkpoint import caught_up, checkpoint_files, last_committed_offset

TABLE = "0a1b-table"


def offset(version=5, index=-1, starting=False, table=TABLE) -> str:
    return json.dumps({"sourceVersion": 1, "reservoirId": table, "reservoirVersion": version, "index": index,
                       "isStartingVersion": starting})


def offsets_file(*sources: str) -> str:
    return "\n".join(["v1", '{"batchWatermarkMs":0,"batchTimestampMs":1}', *sources])


COMMIT = 'v1\n{"nextBatchWatermarkMs":0}'

LAST_COMMITTED_CASES = [
    # files in the checkpoint -> the offset its last batch read up to, when committed
    (None, None),
    ({}, None),
    ({"offsets/0": offsets_file(offset(1))}, None),                              # planned, not committed
    ({"offsets/0": offsets_file(offset(1)), "commits/0": COMMIT}, json.loads(offset(1))),
    ({"offsets/0": offsets_file(offset(1)), "commits/0": COMMIT,
      "offsets/1": offsets_file(offset(3))}, None),                               # batch 1 interrupted
    ({"offsets/9": offsets_file(offset(1)), "commits/9": COMMIT,
      "offsets/10": offsets_file(offset(4)), "commits/10": COMMIT}, json.loads(offset(4))),  # 10 > 9, not "9" > "10"
    ({"commits/0": COMMIT}, None),                                               # a commit with no plan
    ({"offsets/0": offsets_file(offset(1), offset(2)), "commits/0": COMMIT}, None),  # two sources: not ours
    ({"offsets/0": offsets_file("not json"), "commits/0": COMMIT}, None),
    ({"offsets/0": offsets_file("[1]"), "commits/0": COMMIT}, None),
    ({"offsets/0": "v1", "commits/0": COMMIT}, None),                             # cut short
    ({"offsets/0": offsets_file(offset(1)) + "\n", "commits/0": COMMIT,
      "offsets/tmp": "x"}, json.loads(offset(1))),                                # trailing newline, stray file
]


@pytest.mark.parametrize("files, expected", LAST_COMMITTED_CASES)
def test_the_last_committed_offset(files, expected):
    assert last_committed_offset(files) == expected


CAUGHT_UP_CASES = [
    # offset, the table's latest version -> every version read?
    (json.loads(offset(6)), 5, True),                       # all of 5 read, nothing of 6 yet
    (json.loads(offset(6)), 4, False),                      # versions never go back: not this table's
    (json.loads(offset(6)), 6, False),                      # version 6 committed since
    (json.loads(offset(5, index=3)), 4, False),             # part of a version: the stream decides
    (json.loads(offset(6, starting=True)), 5, False),       # inside the first snapshot
    (json.loads(offset(6, table="other")), 5, False),       # another table (or dropped and re-created)
    ({"reservoirId": TABLE, "reservoirVersion": "6", "index": -1, "isStartingVersion": False}, 5, False),
    ({"reservoirId": TABLE, "reservoirVersion": True, "index": -1, "isStartingVersion": False}, 0, False),
    ({"reservoirId": TABLE, "reservoirVersion": 6, "isStartingVersion": False}, 5, False),
    (None, 5, False),
]


@pytest.mark.parametrize("found, latest, expected", CAUGHT_UP_CASES)
def test_caught_up(found, latest, expected):
    assert caught_up(found, TABLE, latest) is expected


@pytest.mark.e2e
def test_a_real_checkpoint_is_read_as_planned_and_committed_batches(spark, tmp_path):
    assert checkpoint_files(spark, str(tmp_path / "none")) is None
    (tmp_path / "offsets").mkdir()
    (tmp_path / "commits").mkdir()
    (tmp_path / "offsets" / "0").write_text(offsets_file(offset(1)))
    (tmp_path / "offsets" / ".0.crc").write_bytes(b"\x00crc")  # hidden files are not read
    (tmp_path / "commits" / "0").write_text(COMMIT)
    (tmp_path / "offsets" / "1").write_text(offsets_file(offset(2)))
    files = checkpoint_files(spark, str(tmp_path))
    assert files == {"offsets/0": offsets_file(offset(1)), "commits/0": COMMIT, "offsets/1": offsets_file(offset(2))}
    assert last_committed_offset(files) is None
    (tmp_path / "commits" / "1").write_text(COMMIT)
    assert last_committed_offset(checkpoint_files(spark, str(tmp_path))) == json.loads(offset(2))
