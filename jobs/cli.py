"""The ``inference-logs`` command: parse arguments and config, build the session, run."""
from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
from pathlib import Path
from typing import Sequence

from pipelines.config import TABLE_OVERRIDES, Settings, load_settings
from pipelines.errors import InferenceLogsError

DEFAULT_CONFIG = "conf/local.yaml"


def _date(text: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date in the form YYYY-MM-DD") from None


def _add_config_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", default=DEFAULT_CONFIG, help=f"YAML config file (default: {DEFAULT_CONFIG})")
    parser.add_argument("--catalog", help="fills ${catalog} in the config (the bundle passes its target's)")
    parser.add_argument("--schema", help="fills ${schema} in the config (the bundle passes its target's)")
    group = parser.add_argument_group("table locations (override the config; a name or a path)")
    group.add_argument("--payload-table", help="the raw {model}_payload table")
    group.add_argument("--request-logs-table", help="the request-logs output table")
    group.add_argument("--assessment-logs-table", help="the assessment-logs output table")
    group.add_argument("--quarantine-table", help="the quarantine output table")


def _add_date_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--start-date", type=_date, help="first payload date, inclusive (YYYY-MM-DD)")
    parser.add_argument("--end-date", type=_date, help="last payload date, inclusive (YYYY-MM-DD)")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="inference-logs",
        description="Derive request logs and assessment logs from a raw payload inference table.",
    )
    commands = parser.add_subparsers(dest="command", required=True)

    backfill = commands.add_parser("backfill", help="rebuild a range of payload dates (or the whole table)")
    _add_config_arguments(backfill)
    _add_date_arguments(backfill)
    backfill.add_argument("--merge", action="store_true",
                          help="merge the range into the outputs instead of replacing it "
                               "(when several payload tables feed the same outputs)")
    backfill.add_argument("--dates-per-slice", type=int, default=None,
                          help="work through the range in slices of at most this many payload dates, "
                               "printing progress after each (default 7)")
    backfill.add_argument("--wait-seconds", type=float, help="wait this long for another run's lock (state.lock_wait_seconds)")
    backfill.add_argument("--json", action="store_true", help="print the run report as JSON")

    hourly = commands.add_parser("hourly", help="process what arrived since the last run (exactly once), then stop")
    _add_config_arguments(hourly)
    hourly.add_argument("--checkpoint", help="checkpoint directory (overrides state.checkpoint)")
    hourly.add_argument("--wait-seconds", type=float, help="wait this long for another run's lock (state.lock_wait_seconds)")
    hourly.add_argument("--json", action="store_true", help="print the run report as JSON")

    check = commands.add_parser("check", help="report what a run would produce from the payload table; writes nothing")
    _add_config_arguments(check)
    _add_date_arguments(check)
    check.add_argument("--json", action="store_true", help="print the report as JSON")

    verify = commands.add_parser(
        "verify", help="re-derive a payload range and report every row missing, extra, duplicated or changed "
                       "in the three tables; writes nothing")
    _add_config_arguments(verify)
    _add_date_arguments(verify)
    verify.add_argument("--json", action="store_true", help="print the findings as JSON")

    eval_set = commands.add_parser(
        "eval-set", help="write the evaluation set (tables.eval_set) of the rated requests of a range of request "
                         "dates (or all), in MLflow's evaluation-dataset record shape")
    _add_config_arguments(eval_set)
    _add_date_arguments(eval_set)
    eval_set.add_argument("--json", action="store_true", help="print the report as JSON")

    ddl = commands.add_parser("ddl", help="print CREATE TABLE statements for the configured tables")
    _add_config_arguments(ddl)

    fetch = commands.add_parser("fetch-jars", help="download the Delta Lake jars into the cache (once)")
    fetch.add_argument("--config", help="YAML config file whose spark.jars_cache to fill "
                                        "(default: the per-user cache, ~/.cache/inference-logs/spark-jars)")
    return parser


def settings_from(args: argparse.Namespace) -> Settings:
    overrides = {dotted: getattr(args, option, None) for option, dotted in TABLE_OVERRIDES.items()}
    return load_settings(args.config, overrides)


def spark_for(settings: Settings, short_run: bool = False):
    from pipelines.io.spark_session import get_spark

    s = settings.spark
    return get_spark(master=s.master, app_name=s.app_name, jars_cache=s.jars_cache, conf=s.conf, remote=s.remote,
                     short_run=short_run)


def print_report(report, as_json: bool, written: bool = True) -> None:
    if as_json:
        print(json.dumps(report.as_dict(), indent=2, sort_keys=True))
        return
    if report.run_id:
        print(f"run                     {report.run_id}")
    print(f"payload rows read       {report.rows_read}")
    print(f"  -> request logs       {report.request_logs_rows}")
    print(f"  -> assessment logs    {report.feedback_rows} feedback rows, {report.assessment_rows} assessments")
    print(f"  -> quarantine         {report.quarantined_rows} {report.quarantine_reasons or ''}")
    print(f"  duplicates collapsed  {report.duplicates_collapsed}")
    print(f"status codes            {report.status_codes}")
    print(f"request shapes          {report.request_shapes}")
    print(f"response shapes         {report.response_shapes}")
    print(f"trace formats           {report.trace_formats}")
    if report.rows_written:
        print(f"rows committed          {report.rows_written}")
    if report.missing_request_text or report.missing_answer_text:
        print(f"no query text, by shape {report.missing_request_text}")
        print(f"no answer text, by shape {report.missing_answer_text}")
    balance = "balanced" if report.balanced else "NOT BALANCED"
    failed = [name for name, passed in report.checks.items() if not passed]
    checks = "all passed" if not failed else "FAILED " + ", ".join(failed)
    print(f"reconciliation          {balance}; counts and commits: {checks}" + ("" if written else " (nothing written)"))


def _backfill(args: argparse.Namespace) -> int:
    from pipelines.runs.backfill import DEFAULT_DATES_PER_SLICE, run_backfill
    from pipelines.runs.dates import DateRange

    settings = settings_from(args)
    dates = DateRange(args.start_date, args.end_date)
    per_slice = DEFAULT_DATES_PER_SLICE if args.dates_per_slice is None else args.dates_per_slice
    report = run_backfill(spark_for(settings), settings, dates, merge=args.merge, dates_per_slice=per_slice)
    print_report(report, args.json)
    return 0 if report.ok else 3


def _check(args: argparse.Namespace) -> int:
    from pipelines.runs.dates import DateRange
    from pipelines.runs.verify import check_payload

    settings = settings_from(args)
    report = check_payload(spark_for(settings), settings, DateRange(args.start_date, args.end_date))
    print_report(report, args.json, written=False)
    return 0 if report.ok else 3


def _verify(args: argparse.Namespace) -> int:
    from pipelines.runs.dates import DateRange
    from pipelines.runs.verify import verify_tables

    settings = settings_from(args)
    findings = verify_tables(spark_for(settings), settings, DateRange(args.start_date, args.end_date))
    if args.json:
        print(json.dumps(findings.as_dict(), indent=2, sort_keys=True))
    else:
        print(f"verified                {findings.source}")
        for name, table in findings.tables.items():
            state = "clean" if table.clean else "DIFFERS"
            print(f"  {name:<20} {state}: expected {table.expected}, found {table.found}, missing {table.missing}, "
                  f"extra {table.extra}, duplicated {table.duplicated}, changed {table.changed}")
            for kind, keys in table.examples.items():
                print(f"    {kind}: {', '.join(keys)}")
    return 0 if findings.ok else 3


def _hourly(args: argparse.Namespace) -> int:
    from pipelines.runs.hourly import run_hourly

    settings = settings_from(args)
    report = run_hourly(spark_for(settings, short_run=True), settings)
    print_report(report, args.json)
    return 0 if report.ok else 3


def _eval_set(args: argparse.Namespace) -> int:
    from pipelines.runs.dates import DateRange
    from pipelines.runs.eval_set import export_eval_set

    settings = settings_from(args)
    report = export_eval_set(spark_for(settings), settings, DateRange(args.start_date, args.end_date))
    if args.json:
        print(json.dumps(report.as_dict(), indent=2, sort_keys=True))
    else:
        print(f"evaluation set          {report.table} ({report.dates})")
        print(f"rated requests          {report.rows}: {report.with_expected_response} with an expected response, "
              f"{report.with_expected_context} with expected retrieved context")
        print(f"rows committed          {report.rows_written}" + ("" if report.ok else " (NOT every row)"))
    return 0 if report.ok else 3


def _fetch_jars(args: argparse.Namespace) -> int:
    from pipelines.io.spark_session import fetch_delta_jars

    jars = fetch_delta_jars(load_settings(args.config).spark.jars_cache if args.config else None)
    print(f"{len(jars)} jars cached in {Path(jars[0]).parent}")
    return 0


def _ddl(args: argparse.Namespace) -> int:
    from pipelines.io.delta_tables import TableLocation
    from schemas.render import create_table_ddl
    from schemas.tables import TABLES

    configured = settings_from(args).tables
    for table in TABLES:
        if getattr(configured, table.name):  # an optional table is made only when configured
            print(create_table_ddl(TableLocation(getattr(configured, table.name)).sql, table.schema,
                                   partition_by=table.partition_by, cluster_by=table.cluster_by))
    return 0


COMMANDS = {"backfill": _backfill, "hourly": _hourly, "check": _check, "verify": _verify, "eval-set": _eval_set,
            "ddl": _ddl, "fetch-jars": _fetch_jars}


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return COMMANDS[args.command](args)
    except InferenceLogsError as exc:
        print(f"inference-logs {args.command}: {exc}", file=sys.stderr)
        return exc.exit_code


def run() -> None:
    """The console entry point (``inference-logs``, and the bundle's wheel task): exits with
    main's code, so that a failed or unreconciled run fails its job task."""
    sys.exit(main())


if __name__ == "__main__":
    run()
