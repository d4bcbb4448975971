"""`{model}_payload_eval_set`: one row per rated request, in the record shape of MLflow's
evaluation datasets (MLflow 3: ``inputs``, ``outputs``, ``expectations``, ``tags``;
``mlflow.genai.evaluate(data=spark.table(...))`` reads it as it is: ``inputs`` and
``expectations`` are JSON text, which MLflow decodes when it reads a Spark DataFrame)."""
from pyspark.sql.types import DateType, MapType, StringType, StructType, TimestampType

from schemas.fields import column

EVAL_SET = StructType([
    column("request_id", StringType(), "databricks_request_id of the rated request (MLflow's row id)."),
    column("date", DateType(), "Request date (UTC); the table is partitioned by it."),
    column("inputs", StringType(), "JSON object: the request body as logged (the conversation), or "
                                   "{\"request\": last user query} when the body is not a JSON object.", long_text=True),
    column("outputs", StringType(), "The answer the endpoint gave.", long_text=True),
    column("expectations", StringType(), "JSON object: expected_response and expected_retrieved_context "
                                         "([{doc_uri, content}]), each present only when known.", long_text=True),
    column("tags", MapType(StringType(), StringType()), "databricks_request_id, rater and rating."),
    column("rater", StringType(), "source.id of the latest rating of the answer."),
    column("rating", StringType(), "Its value (positive, negative, ...)."),
    column("rated_at", TimestampType(), "When that rating was given."),
])
