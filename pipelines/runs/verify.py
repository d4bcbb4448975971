"""Read-only commands: ``check`` (what a run would produce) and ``verify`` (whether the tables
hold exactly what the payload derives to). Neither writes anything: no table, lock or checkpoint.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from pipelines.config import Settings
from pipelines.io import delta_tables
from pipelines.io.delta_tables import TableLocation
from pipelines.runs.dates import DateRange
from pipelines.runs.payload_source import payload_location, sample_frame
from pipelines.runs.outputs import Output, OutputTables
from pipelines.runs.writers import Discard
from pipelines.runs.passes import derive_outputs, find_repeated_ids, output_rows
from pipelines.runs.report import RunReport
from pipelines.transforms.duplicates import collapse_duplicates
from pipelines.transforms.normalize import normalize_payload

#: How many example keys each finding lists.
EXAMPLES = 5


def row_key(output: Output) -> list[str] | None:
    """The columns a row of ``output`` is found by: its declared identity when a stored row can be
    replaced by a later one (request logs, request details: a changed row is told from a missing
    one); None when a row is its whole content (assessment logs, quarantine)."""
    return output.table.identity_sql() if output.replacement is not None else None


def check_payload(spark: SparkSession, settings: Settings, dates: DateRange) -> RunReport:
    """Derive and count what a run would produce from a payload table (or a range of it),
    without writing anything (no sample table either: it is generated in memory)."""
    sample = settings.sample_data
    if settings.tables.payload or sample is None or delta_tables.table_exists(spark, TableLocation(sample.table)):
        payload, _ = delta_tables.read_snapshot(spark, payload_location(spark, settings))
    else:
        payload = sample_frame(spark, sample)
    return derive_outputs(normalize_payload(dates.of(payload)), Discard(),
                          with_details=settings.tables.request_details is not None)


@dataclass
class TableFindings:
    expected: int = 0
    found: int = 0
    missing: int = 0
    extra: int = 0
    duplicated: int = 0
    changed: int = 0
    examples: dict[str, list[str]] = field(default_factory=dict)

    @property
    def clean(self) -> bool:
        return not (self.missing or self.extra or self.duplicated or self.changed)


@dataclass
class VerifyReport:
    source: str
    tables: dict[str, TableFindings]

    @property
    def ok(self) -> bool:
        return all(findings.clean for findings in self.tables.values())

    def as_dict(self) -> dict:
        return {"source": self.source, "ok": self.ok,
                "tables": {name: {**asdict(f), "clean": f.clean} for name, f in self.tables.items()}}


def _as_text(df: DataFrame, columns: list[str]) -> DataFrame:
    return df.select(F.to_json(F.struct(*columns)).alias("row"))


def _examples(df: DataFrame) -> list[str]:
    return [row[0] for row in df.limit(EXAMPLES).collect()]


def _compare(expected: DataFrame, found: DataFrame, key: list[str] | None) -> TableFindings:
    columns = expected.columns
    findings = TableFindings(expected=expected.count(), found=found.count())
    whole_expected, whole_found = _as_text(expected, columns), _as_text(found, columns)
    if key is None:  # rows identified by their whole content: compare copies per row
        wanted = whole_expected.groupBy("row").agg(F.count(F.lit(1)).alias("wanted"))
        have = whole_found.groupBy("row").agg(F.count(F.lit(1)).alias("have"))
        both = wanted.join(have, "row", "full").fillna(0, ["wanted", "have"])
        missing = both.where("have < wanted").select("row")
        extra = both.where("wanted = 0").select("row")
        duplicated = both.where("wanted > 0 AND have > wanted").select("row")   # more copies than derived
        changed = None
    else:
        keys_expected, keys_found = _as_text(expected, key), _as_text(found, key)
        missing, extra = keys_expected.exceptAll(keys_found), keys_found.exceptAll(keys_expected)
        duplicated = keys_found.groupBy("row").count().where("count > 1").select("row")
        both = expected.alias("e").join(found.alias("f"), [F.col(f"e.{k}").eqNullSafe(F.col(f"f.{k}")) for k in key])
        changed = both.where(F.to_json(F.struct(*[F.col(f"e.{c}") for c in columns]))
                             != F.to_json(F.struct(*[F.col(f"f.{c}") for c in columns]))).select(
            F.to_json(F.struct(*[F.col(f"e.{k}").alias(k) for k in key])).alias("row"))
    for name, frame in (("missing", missing), ("extra", extra), ("duplicated", duplicated), ("changed", changed)):
        if frame is None:
            continue
        setattr(findings, name, frame.count())
        if getattr(findings, name):
            findings.examples[name] = _examples(frame)
    return findings


def verify_tables(spark: SparkSession, settings: Settings, dates: DateRange) -> VerifyReport:
    """Derive the outputs of a payload range again and compare them, row by row, with what the
    output tables hold in that range: every row missing, extra, duplicated, or (request logs)
    changed. Run it after an incident, a manual edit, or an upgrade; it reads everything."""
    source = payload_location(spark, settings)
    tables = OutputTables.from_settings(settings)
    snapshot, version = delta_tables.read_snapshot(spark, source)
    normalized = normalize_payload(dates.of(snapshot))
    # the request-logs pass's choice of a repeated id's row, which the other passes' agrees with
    derived = output_rows(collapse_duplicates(normalized, find_repeated_ids(normalized), by_response=True),
                          with_details=tables.with_details)
    findings = {}
    for output in tables.outputs:
        found = delta_tables.read_table(spark, tables[output.name])
        predicate = dates.predicate(output.range_column)
        if predicate is not None:
            found = found.where(predicate)
        findings[output.name] = _compare(derived[output.name], found, row_key(output))
    return VerifyReport(f"{source} version {version}: {dates.describe()}", findings)
