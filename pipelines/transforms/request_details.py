"""The request-details rows: one per request-logs row, with the token usage, the retrieved
documents and the tool calls the rules read from its bodies (schemas/request_details.py)."""
from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from pipelines.rules.classify import REQUEST_LOGS
from pipelines.transforms.rules_per_batch import DETAIL_FIELDS, request_detail_batches, with_fields
from schemas.request_details import REQUEST_DETAILS

REQUEST_TOO_LARGE, RESPONSE_TOO_LARGE = "MAX_REQUEST_SIZE_EXCEEDED", "MAX_RESPONSE_SIZE_EXCEEDED"


def derive_request_details(collapsed: DataFrame) -> DataFrame:
    """Every distinct payload row (normalized, one per request id) classified, with the details
    of the request-logs rows: the rules applied per Arrow batch."""
    columns = collapsed.drop("payload_row", "client_request_id", "sampling_fraction")
    return columns.mapInArrow(request_detail_batches, with_fields(columns.schema, DETAIL_FIELDS))


def _logged_code(code: str) -> F.Column:
    """Whether the payload logged a logging error code for the row (AI Gateway tables)."""
    codes = F.split(F.coalesce(F.col("request_metadata")["logging_error_codes"], F.lit("")), ",")
    return F.array_contains(codes, code)


def _served_entity() -> F.Column:
    metadata = F.col("request_metadata")
    legacy = F.nullif(F.concat_ws("/", metadata["model_name"], metadata["model_version"]), F.lit(""))
    return F.coalesce(metadata["served_entity_id"], legacy)


def request_detail_rows(derived: DataFrame) -> DataFrame:
    """The request-details table's rows of derived rows (:func:`derive_request_details`)."""
    rows = derived.where(F.col("destination") == REQUEST_LOGS).withColumns({
        "endpoint_name": F.col("request_metadata")["endpoint_name"],
        "served_entity": _served_entity(),
        "request_too_large": _logged_code(REQUEST_TOO_LARGE),
        "response_too_large": _logged_code(RESPONSE_TOO_LARGE),
    })
    return rows.select(*[F.col(f.name).cast(f.dataType).alias(f.name) for f in REQUEST_DETAILS.fields])
