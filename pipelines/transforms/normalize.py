"""Recognise a payload table's generation from its columns and bring either generation to one
normalised frame (the request-logs columns that come straight from the payload row)."""
from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F
from pyspark.sql.types import StringType, StructType

from pipelines.errors import InputError
from schemas.payload import GENERATION_MARKERS, REQUIRED_COLUMNS, SCHEMAS, PayloadGeneration


MIN_EPOCH_MS = -62_135_596_800_000  # 0001-01-01
MAX_EPOCH_MS = 253_402_300_799_999  # 9999-12-31


class PayloadSchemaError(InputError):
    """The payload table cannot be read as either generation."""


def detect_generation(columns: list[str]) -> PayloadGeneration:
    """The generation whose marker columns the table shares most; an error naming the missing
    columns when it matches neither."""
    present = set(columns)
    missing = [name for name in REQUIRED_COLUMNS if name not in present]
    if missing:
        raise PayloadSchemaError(
            f"the payload table lacks the required column(s) {', '.join(missing)}; "
            f"it has {', '.join(sorted(present)) or 'no columns'}. Point --payload-table at a "
            "{model}_payload inference table."
        )
    scores = {generation: len(present.intersection(markers)) for generation, markers in GENERATION_MARKERS.items()}
    best = max(scores, key=lambda generation: scores[generation])
    if scores[best] == 0:
        raise PayloadSchemaError(
            "cannot tell the payload generation: the table has none of the legacy columns "
            f"({', '.join(GENERATION_MARKERS[PayloadGeneration.LEGACY])}) nor of the AI Gateway "
            f"columns ({', '.join(GENERATION_MARKERS[PayloadGeneration.GATEWAY])})."
        )
    return best


def _column_or_null(df: DataFrame, schema: StructType, name: str) -> Column:
    """The column cast to its declared type (status_code given as a string is cast with
    try_cast), or a typed null when the table lacks it."""
    declared = schema[name].dataType
    if name not in df.columns:
        return F.lit(None).cast(declared)
    return F.col(name).try_cast(declared)


#: The normalized columns the classification reads (:mod:`pipelines.rules.classify`).
CLASSIFIED_COLUMNS = ("databricks_request_id", "date", "timestamp", "status_code", "status_code_raw", "request_raw")

#: The payload column the request-logs pass alone reads; a quarantined row keeps every other one.
RESPONSE_BODY = "response"


def original_row(df: DataFrame) -> Column:
    """The payload row as it is, every column but the response body (which only the request-logs
    pass reads), for quarantine rows (serialised only there). A string request body is left
    null here: it travels once, as ``request_raw``, and :func:`restore_request` puts it back
    (a second copy in every projection doubled the memory a 10 MiB row takes)."""
    row_type = df.schema
    return F.struct(*[
        F.lit(None).cast(StringType()).alias(name) if _request_travels_as_raw(row_type, name) else F.col(name)
        for name in df.columns if name != RESPONSE_BODY
    ])


def _request_travels_as_raw(row_type: StructType, name: str) -> bool:
    return name == "request" and name in row_type.fieldNames() and isinstance(row_type[name].dataType, StringType)


def restore_request(row: Column, row_type: StructType) -> Column:
    """The row of :func:`original_row` with its string request body put back from
    ``request_raw``, in its place. ``row_type`` is the row's struct type."""
    if _request_travels_as_raw(row_type, "request"):
        row = row.withField("request", F.col("request_raw"))
    return row


def payload_row_json(row: Column) -> Column:
    """The payload row as JSON text, null columns included (``to_json`` drops them by default)."""
    return F.to_json(row, {"ignoreNullFields": "false"})


def normalize_payload(df: DataFrame) -> DataFrame:
    """Columns: databricks_request_id, client_request_id, date, timestamp_ms, timestamp,
    status_code, status_code_raw, execution_time_ms, request_raw, response_raw,
    sampling_fraction, request_metadata, payload_row (every payload column but the response)."""
    generation = detect_generation(df.columns)
    schema = SCHEMAS[generation]

    def col(name: str) -> Column:
        return _column_or_null(df, schema, name)

    if generation is PayloadGeneration.LEGACY:
        timestamp_ms = col("timestamp_ms")
        # Guarded: timestamp_millis fails (ANSI) outside years 1-9999.
        timestamp = F.when(timestamp_ms.between(MIN_EPOCH_MS, MAX_EPOCH_MS), F.timestamp_millis(timestamp_ms))
        date = F.coalesce(col("date"), F.to_date(timestamp))
        execution_time_ms = col("execution_time_ms")
        request_metadata = col("request_metadata")
    else:
        timestamp = col("request_time")
        timestamp_ms = F.unix_millis(timestamp)
        date = F.coalesce(col("request_date"), F.to_date(timestamp))
        execution_time_ms = col("execution_duration_ms")
        request_metadata = F.map_filter(
            F.create_map(
                F.lit("served_entity_id"), col("served_entity_id"),
                F.lit("requester"), col("requester"),
                F.lit("logging_error_codes"), F.array_join(col("logging_error_codes"), ","),
            ),
            lambda _, value: value.isNotNull(),
        )

    raw_status = F.col("status_code").cast("string") if "status_code" in df.columns else F.lit(None).cast("string")
    return df.select(
        F.nullif(F.trim(col("databricks_request_id")), F.lit("")).alias("databricks_request_id"),
        col("client_request_id").alias("client_request_id"),
        date.alias("date"),
        timestamp_ms.alias("timestamp_ms"),
        timestamp.alias("timestamp"),
        F.trim(raw_status).try_cast("int").alias("status_code"),
        raw_status.alias("status_code_raw"),
        execution_time_ms.alias("execution_time_ms"),
        col("request").alias("request_raw"),
        col("response").alias("response_raw"),
        col("sampling_fraction").alias("sampling_fraction"),
        request_metadata.alias("request_metadata"),
        original_row(df).alias("payload_row"),
    )


def _date_columns(df: DataFrame) -> tuple[Column | None, Column | None]:
    """The payload's date column and its request time as a timestamp (None when absent), as
    raw columns, so that filters on them let Delta prune files."""
    generation = detect_generation(df.columns)
    date_col, time_col = (
        ("date", "timestamp_ms") if generation is PayloadGeneration.LEGACY else ("request_date", "request_time")
    )
    date = F.col(date_col) if date_col in df.columns else None
    time = None
    if time_col in df.columns:
        time = F.col(time_col)
        if time_col == "timestamp_ms":
            millis = F.col(time_col).try_cast("bigint")
            time = F.when(millis.between(MIN_EPOCH_MS, MAX_EPOCH_MS), F.timestamp_millis(millis))
    return date, time


def date_range_filter(df: DataFrame, start, end) -> Column:
    """Rows whose payload date (or, where the date is null, request time) is in [start, end]."""
    date, time = _date_columns(df)
    in_range = F.lit(False) if date is None else date.between(F.lit(start), F.lit(end))
    if time is not None:
        no_date = F.lit(True) if date is None else date.isNull()
        in_range = in_range | (no_date & F.to_date(time).between(F.lit(start), F.lit(end)))
    return in_range


def undated_filter(df: DataFrame) -> Column:
    """Rows with neither a payload date nor a usable request time: in no date range."""
    date, time = _date_columns(df)
    no_date = F.lit(True) if date is None else date.isNull()
    return no_date & (F.lit(True) if time is None else F.to_date(time).isNull())
