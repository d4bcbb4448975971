"""The payload table a run reads: the configured one, or a sample table written once when none is
configured (the embedded default of ``make run``)."""
from __future__ import annotations

from pyspark.sql import DataFrame, SparkSession

from pipelines.config import SampleDataSettings, Settings
from pipelines.errors import ConfigError
from pipelines.io import delta_tables
from pipelines.io.delta_tables import TableLocation
from pipelines.samples.synthetic_payloads import synthetic_payload


def payload_location(spark: SparkSession, settings: Settings) -> TableLocation:
    """The configured payload table; when none is configured, a sample payload table is written
    first (once) from settings.sample_data."""
    location = configured_payload(settings)
    if location is None:
        raise ConfigError("tables.payload is not set and there is no sample_data section to generate one from")
    if not settings.tables.payload and not delta_tables.table_exists(spark, location):
        delta_tables.write_table(sample_frame(spark, settings.sample_data), location)
    return location


def configured_payload(settings: Settings) -> TableLocation | None:
    """Where the payload table is (configured, else the sample's), without looking at it."""
    if settings.tables.payload:
        return TableLocation(settings.tables.payload)
    return TableLocation(settings.sample_data.table) if settings.sample_data is not None else None


def sample_frame(spark: SparkSession, sample: SampleDataSettings) -> DataFrame:
    return synthetic_payload(spark, sample.rows, sample.seed, sample.generation, sample.body_sizes)
