"""Run configuration: YAML files in conf/, validated by pydantic, overridable from the CLI."""
from __future__ import annotations

import os
from enum import Enum
from pathlib import Path
from typing import Any, Optional

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, create_model, model_validator

from pipelines.errors import ConfigError
from schemas.payload import PayloadGeneration
from schemas.tables import TABLES, Table

__all__ = ["BodySizes", "ConfigError", "Settings", "load_settings"]


class BodySizes(str, Enum):
    """Body sizes of generated sample data."""
    COMPACT = "compact"         # the template bodies as they are (a few KiB)
    REALISTIC = "realistic"     # padded to 2 KiB .. 10 MiB (pipelines.samples.synthetic_payloads)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True, populate_by_name=True)


class SparkSettings(_Strict):
    master: str = Field("local[2]", description="Master of a local session (when there is no active or remote one).")
    remote: Optional[str] = Field(
        None, description="Spark Connect endpoint (sc://host:port), or 'databricks' for Databricks Connect; "
                          "the SPARK_REMOTE environment variable wins.")
    app_name: str = Field("inference-logs", description="Name of a session the job starts itself.")
    jars_cache: Optional[str] = Field(
        None, description="Where the Delta jars are cached for offline runs (default: ~/.cache/inference-logs/spark-jars).")
    conf: dict[str, str] = Field(default_factory=dict, description="Extra Spark settings (strings); on Spark Connect "
                                                                   "only those serverless lets a session set.")


def _table_setting(table: Table) -> tuple[Any, Any]:
    """A declared table's key under ``tables:``: required unless the table is optional."""
    if table.optional:
        return Optional[str], Field(None, description=table.description)
    return str, Field(description=table.description)


#: The ``tables:`` section: the payload table, then one key per declared table (schemas/tables.py).
TableSettings = create_model(
    "TableSettings", __base__=_Strict,
    payload=(Optional[str], Field(None, description="The {model}_payload table; none = sample data.")),
    **{table.name: _table_setting(table) for table in TABLES})


class StateSettings(_Strict):
    checkpoint: str = Field(description="Checkpoint directory of the hourly job's stream.")
    lock: str = Field(description="Delta table of run leases that keeps runs on the same tables one at a time "
                                  "(a table name or a path).")
    batch_reports: Optional[str] = Field(
        None, description="Delta table where each hourly micro-batch records its counts (a table name or a path); "
                          "default: beside state.lock (inference_logs_batch_reports in its schema, or batch_reports "
                          "in its directory).")
    lock_wait_seconds: float = Field(0, ge=0, description="How long a second run waits for the lease before failing.")
    lease_seconds: float = Field(300, ge=5, description="A run's lease lasts this long and is renewed every third of "
                                                        "it; a killed run's lease is taken over when it expires.")
    max_files_per_batch: Optional[int] = Field(None, gt=0, description="Payload files per micro-batch (bounds memory).")

    @model_validator(mode="after")
    def _batch_reports_beside_the_lock(self) -> "StateSettings":
        if self.batch_reports is None:
            if "/" in self.lock:
                self.batch_reports = os.path.join(os.path.dirname(self.lock.rstrip("/")), "batch_reports")
            else:
                self.batch_reports = ".".join([*self.lock.split(".")[:-1], "inference_logs_batch_reports"])
        return self


class SampleDataSettings(_Strict):
    table: str = Field(description="Where the sample payload table is written when tables.payload is unset.")
    rows: int = Field(2000, gt=0, description="Rows of the sample.")
    generation: PayloadGeneration = Field(PayloadGeneration.GATEWAY, description="Payload generation of the sample.")
    seed: int = Field(7, description="Seed of the sample (the same seed gives the same rows).")
    body_sizes: BodySizes = Field(BodySizes.COMPACT, description="compact, or realistic (2 KiB to 10 MiB bodies).")


class Settings(_Strict):
    environment: str = Field(description="A label for the environment.")
    catalog: Optional[str] = Field(None, description="Fills ${catalog} in the other values (bundle targets set it).")
    schema_name: Optional[str] = Field(None, alias="schema", description="Fills ${schema} in the other values.")
    spark: SparkSettings = Field(default_factory=SparkSettings)
    tables: TableSettings
    state: Optional[StateSettings] = Field(None, description="The jobs' own state (required by the hourly job).")
    sample_data: Optional[SampleDataSettings] = Field(None, description="Sample data for a run with no payload table.")


#: CLI option -> dotted config key it overrides.
TABLE_OVERRIDES = {
    "catalog": "catalog",
    "schema": "schema",
    "payload_table": "tables.payload",
    "request_logs_table": "tables.request_logs",
    "assessment_logs_table": "tables.assessment_logs",
    "quarantine_table": "tables.quarantine",
    "checkpoint": "state.checkpoint",
    "wait_seconds": "state.lock_wait_seconds",
}


def _set_dotted(data: dict, dotted: str, value: Any) -> None:
    *parents, leaf = dotted.split(".")
    node = data
    for key in parents:
        node = node.setdefault(key, {})
        if not isinstance(node, dict):
            raise ConfigError(f"cannot override {dotted}: {key} is not a mapping")
    node[leaf] = value


def _describe(error: ValidationError, source: str) -> str:
    lines = [f"invalid configuration in {source}:"]
    for problem in error.errors():
        key = ".".join(str(part) for part in problem["loc"]) or "(top level)"
        message = "unknown key (check its spelling)" if problem["type"] == "extra_forbidden" else problem["msg"]
        lines.append(f"  {key}: {message}")
    return "\n".join(lines)


#: Config values that name a place: a relative one is relative to the config file's directory.
PATH_KEYS = (*(f"tables.{name}" for name in TableSettings.model_fields), "state.checkpoint", "state.lock",
             "state.batch_reports", "sample_data.table", "spark.jars_cache")
#: Keys that are always paths (a table key is a path only when it holds a '/').
ALWAYS_PATHS = ("state.checkpoint", "spark.jars_cache")
PLACEHOLDERS = {"${catalog}": "catalog", "${schema}": "schema"}


def _get_dotted(data: dict, dotted: str) -> Any:
    node: Any = data
    for key in dotted.split("."):
        if not isinstance(node, dict):
            return None
        node = node.get(key)
    return node


def _absolute(value: str, dotted: str, base: Path) -> str:
    looks_like_path = dotted in ALWAYS_PATHS or "/" in value
    if not looks_like_path or "://" in value or value.startswith("${") or os.path.isabs(value):
        return value
    return os.path.normpath(os.path.join(base, value))


def _resolve_paths(data: dict, base: Path, keys) -> None:
    for dotted in keys:
        value = _get_dotted(data, dotted)
        if isinstance(value, str):
            _set_dotted(data, dotted, _absolute(value, dotted, base))


def _fill_placeholders(data: Any, values: dict[str, Any], source: str) -> Any:
    if isinstance(data, dict):
        return {key: _fill_placeholders(value, values, source) for key, value in data.items()}
    if not isinstance(data, str):
        return data
    for placeholder, key in PLACEHOLDERS.items():
        if placeholder in data:
            if not values.get(key):
                raise ConfigError(f"{source} uses {placeholder} but {key} is not set (in the file or with --{key})")
            data = data.replace(placeholder, str(values[key]))
    return data


def _type_name(annotation) -> str:
    import typing

    members = [arg for arg in typing.get_args(annotation) if arg is not type(None)] or [annotation]
    if isinstance(members[0], type) and issubclass(members[0], Enum):
        return " or ".join(f"`{member.value}`" for member in members[0])
    return {str: "text", int: "integer", float: "number", dict: "mapping"}.get(
        typing.get_origin(members[0]) or members[0], str(members[0]))


def _reference_rows(model: type[BaseModel], prefix: str = "") -> list[str]:
    rows = []
    for name, field in model.model_fields.items():
        key = prefix + (field.alias or name)
        annotation = field.annotation
        nested = next((arg for arg in (getattr(annotation, "__args__", None) or (annotation,))
                       if isinstance(arg, type) and issubclass(arg, BaseModel)), None)
        if nested is not None:
            rows += _reference_rows(nested, key + ".")
            continue
        if field.is_required():
            default = "(required)"
        elif field.default_factory is not None:
            default = f"`{field.default_factory()!r}`"
        elif field.default is None:
            default = "none"
        else:
            value = field.default.value if isinstance(field.default, Enum) else field.default
            default = f"`{value}`"
        rows.append(f"| `{key}` | {_type_name(annotation)} | {default} | {field.description or ''} |")
    return rows


def configuration_reference() -> str:
    """The configuration keys as a Markdown table, from the pydantic models (docs/configuration.md
    holds it; a test keeps the two in step)."""
    return "\n".join(["| key | type | default | meaning |", "|---|---|---|---|", *_reference_rows(Settings)])


def load_settings(path: str | Path, overrides: dict[str, Any] | None = None) -> Settings:
    """Read a YAML config and apply overrides given as {dotted.key: value} (None = not given).

    Relative paths in the file are relative to the file's directory; relative paths given as
    overrides are relative to the working directory. ``${catalog}`` and ``${schema}`` in any
    value are filled from the ``catalog`` and ``schema`` keys (or ``--catalog``/``--schema``).
    """
    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text()) or {}
    except FileNotFoundError:
        raise ConfigError(f"config file {path} does not exist; pass --config with a file from conf/") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"config file {path} is not valid YAML: {exc}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"config file {path} must hold a mapping of keys, not {type(data).__name__}")
    _resolve_paths(data, path.resolve().parent, PATH_KEYS)
    given = {dotted: value for dotted, value in (overrides or {}).items() if value is not None}
    for dotted, value in given.items():
        _set_dotted(data, dotted, value)
    _resolve_paths(data, Path.cwd(), [dotted for dotted in given if dotted in PATH_KEYS])
    data = _fill_placeholders(data, data, str(path))
    try:
        return Settings.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(_describe(exc, str(path))) from None


if __name__ == "__main__":
    print(configuration_reference())
