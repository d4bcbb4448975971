"""Run configuration: YAML files in conf/, validated by pydantic, overridable from the CLI."""
from __future__ import annotations

from enum import Enum
from pathlib import Path
from typing import Any, Optional

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from pipelines.errors import ConfigError
from schemas.payload import PayloadGeneration

__all__ = ["BodySizes", "ConfigError", "Settings", "load_settings"]


class BodySizes(str, Enum):
    """Body sizes of generated sample data."""
    COMPACT = "compact"         # the template bodies as they are (a few KiB)
    REALISTIC = "realistic"     # padded to 2 KiB .. 10 MiB (pipelines.samples.synthetic_payloads)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)


class SparkSettings(_Strict):
    master: str = "local[2]"
    app_name: str = "inference-logs"
    jars_cache: str = Field(".cache/spark-jars", description="Where the Delta jars are cached for offline runs.")
    conf: dict[str, str] = Field(default_factory=dict, description="Extra Spark settings.")


class TableSettings(_Strict):
    payload: Optional[str] = Field(None, description="The {model}_payload table; none = sample data.")
    request_logs: str
    assessment_logs: str
    quarantine: str
    run_history: Optional[str] = Field(None, description="One row per run; none = not recorded.")
    assessment_logs_latest: Optional[str] = Field(None, description="Latest rating per rater and target; none = not kept.")


class StateSettings(_Strict):
    checkpoint: str = Field(description="Checkpoint directory of the hourly job's stream.")
    lock: str = Field(description="Lock file that keeps runs on the same tables one at a time (local or /Volumes path).")
    lock_wait_seconds: float = Field(0, ge=0, description="How long a second run waits for the lock before failing.")
    lock_stale_after_seconds: float = Field(6 * 3600, gt=0, description="A lock older than this is taken over.")
    max_files_per_batch: Optional[int] = Field(None, gt=0, description="Payload files per micro-batch (bounds memory).")


class SampleDataSettings(_Strict):
    table: str = Field(description="Where the sample payload table is written when tables.payload is unset.")
    rows: int = Field(2000, gt=0)
    generation: PayloadGeneration = PayloadGeneration.GATEWAY
    seed: int = 7
    body_sizes: BodySizes = Field(BodySizes.COMPACT, description="compact, or realistic (2 KiB to 10 MiB bodies).")


class Settings(_Strict):
    environment: str
    spark: SparkSettings = Field(default_factory=SparkSettings)
    tables: TableSettings
    state: Optional[StateSettings] = None
    sample_data: Optional[SampleDataSettings] = None


#: CLI option -> dotted config key it overrides.
TABLE_OVERRIDES = {
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


def load_settings(path: str | Path, overrides: dict[str, Any] | None = None) -> Settings:
    """Read a YAML config and apply overrides given as {dotted.key: value} (None = not given)."""
    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text()) or {}
    except FileNotFoundError:
        raise ConfigError(f"config file {path} does not exist; pass --config with a file from conf/") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"config file {path} is not valid YAML: {exc}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"config file {path} must hold a mapping of keys, not {type(data).__name__}")
    for dotted, value in (overrides or {}).items():
        if value is not None:
            _set_dotted(data, dotted, value)
    try:
        return Settings.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(_describe(exc, str(path))) from None
