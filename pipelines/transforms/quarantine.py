"""The quarantine rows: payload rows that cannot be derived, with their reason and the payload
row as JSON (every column but the response body, which the payload table keeps)."""
from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from pipelines.transforms.classify import reason_detail
from pipelines.transforms.normalize import payload_row_json, restore_request
from schemas.quarantine import QUARANTINE


def quarantine_rows(quarantined: DataFrame) -> DataFrame:
    """The quarantine rows of classified rows (``reason``, ``payload_row``, the normalized columns)."""
    payload_row = restore_request(F.col("payload_row"), quarantined.schema["payload_row"].dataType)
    return quarantined.withColumns({
        "payload_row": payload_row_json(payload_row),
        "reason_detail": reason_detail(F.col("reason")),
    }).select(*[F.col(f.name).cast(f.dataType).alias(f.name) for f in QUARANTINE.fields])
