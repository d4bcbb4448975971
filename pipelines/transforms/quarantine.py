"""The quarantine rows: payload rows that cannot be derived, with their reason and the payload
row as JSON (every column but the response body, which the payload table keeps)."""
from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from pipelines.rules.classify import QUARANTINE
from pipelines.transforms.duplicates import COLLAPSED
from pipelines.transforms.normalize import CLASSIFIED_COLUMNS, payload_row_json, restore_request
from pipelines.transforms.rules_per_batch import QUARANTINE_FIELDS, quarantine_batches, with_fields
from schemas.quarantine import QUARANTINE as QUARANTINE_SCHEMA


def derive_quarantine(collapsed: DataFrame) -> DataFrame:
    """Every distinct payload row (normalized, one per request id; the response is not read)
    classified, with its reason in words: the rules applied per Arrow batch."""
    columns = collapsed.select(*CLASSIFIED_COLUMNS, "payload_row", COLLAPSED)
    return columns.mapInArrow(quarantine_batches, with_fields(columns.schema, QUARANTINE_FIELDS))


def quarantine_rows(derived: DataFrame) -> DataFrame:
    """The quarantine table's rows of derived rows (:func:`derive_quarantine`)."""
    rows = derived.where(F.col("destination") == QUARANTINE)
    payload_row = restore_request(F.col("payload_row"), rows.schema["payload_row"].dataType)
    return rows.withColumn("payload_row", payload_row_json(payload_row)).select(
        *[F.col(f.name).cast(f.dataType).alias(f.name) for f in QUARANTINE_SCHEMA.fields])
