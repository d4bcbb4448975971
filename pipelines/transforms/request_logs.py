"""The request-logs rows: one per distinct request that is not feedback, whatever its status,
with the last user query, the answer, the trace and their shapes (schemas/request_logs.py)."""
from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from pipelines.transforms.request import with_request_fields
from pipelines.transforms.response import with_response_fields
from schemas.request_logs import REQUEST_LOGS
from schemas.shapes import NOT_JSON, NOT_LOGGED

#: Columns the request-logs rows carry beside the table's, for the run's counts.
COUNTED = ["request_shape", "response_shape"]


def body_shape(raw: Column, parsed: Column, shape: Column) -> Column:
    """A body's shape name, or ``not_logged`` (no body) or ``not_json``."""
    return F.when(raw.isNull(), F.lit(NOT_LOGGED)).when(~parsed, F.lit(NOT_JSON)).otherwise(shape)


def request_log_rows(requests: DataFrame) -> DataFrame:
    """The request-logs rows of parsed request rows (``request_body``, ``request_parsed``, the
    normalized columns), with the shapes they are counted by (:data:`COUNTED`)."""
    derived = requests.transform(with_request_fields).transform(with_response_fields).withColumns({
        "request_shape": body_shape(F.col("request_raw"), F.col("request_parsed"), F.col("request_shape")),
        "response_shape": body_shape(F.col("response_raw"), F.col("response_parsed"), F.col("response_shape")),
    })
    return derived.select(*[F.col(f.name).cast(f.dataType).alias(f.name) for f in REQUEST_LOGS.fields], *COUNTED)
