"""The `ziwo-report` Prefect flow: bring the warehouse up to date (the ingest flow, incremental),
compute a report, write its files, and publish Prefect artifacts: the report as a table, a
markdown summary and a link to each file.

Its parameters are typed (Literal choices and pydantic models), so the Prefect UI shows a form
with dropdowns. Deployments are in prefect.yaml; `ziwo-reports serve` runs them without a work pool.
"""

from __future__ import annotations

import json
from datetime import date, datetime
from pathlib import Path
from typing import Any

import orjson
from prefect import flow, get_run_logger, task
from prefect.artifacts import create_link_artifact, create_markdown_artifact, create_table_artifact
from prefect.cache_policies import NO_CACHE

from connectors.files import FileOptions, WrittenFile, write_report_files
from connectors.files.headline import totals
from flows.ingest import artifact_key, ingest, instance_settings, warehouse_slot
from ziwo_reports import redaction
from ziwo_reports.report import (
    GroupBy,
    Interval,
    LastNDays,
    MetricSettings,
    Report,
    ReportFilters,
    ReportName,
    ReportSpec,
    RollingDate,
    compute_report,
    make_spec,
)
from ziwo_reports.report_output import format_value
from ziwo_reports.warehouse import DEFAULT_DB, open_warehouse

STEP = {"retries": 0, "cache_policy": NO_CACHE}
#: Rows a table artifact shows; the files carry every row.
ARTIFACT_ROWS = 500


@task(name="compute the report", **STEP)
def compute(db_path: str, spec: ReportSpec) -> Report:
    # Read-only: it never changes the file, and reads beside other readers of it.
    with open_warehouse(db_path, read_only=True, on_wait=get_run_logger().warning) as warehouse:
        return compute_report(warehouse, spec)


@task(name="write the files", **STEP)
def write_files(report: Report, files: FileOptions) -> list[WrittenFile]:
    return write_report_files(report, files)


def _link(path: str) -> str:
    return path if "://" in path else Path(path).resolve().as_uri()


def publish(report: Report, written: list[WrittenFile]) -> None:
    """A table artifact of the report, a markdown summary, and a link artifact per file."""
    spec = report.spec
    key = artifact_key("ziwo-report", spec.report, spec.instance or "all")
    rows = orjson.loads(orjson.dumps(report.table.slice(0, ARTIFACT_ROWS).to_pylist()))  # ISO times, lists kept
    shown = "" if report.table.num_rows <= ARTIFACT_ROWS else f", the first {ARTIFACT_ROWS} of {report.table.num_rows}"
    create_table_artifact(rows, key=key, description=f"{report.title}{shown}")
    lines = [
        f"# {spec.report} of `{spec.instance or 'all instances'}`",
        "",
        f"{report.zone.iso(report.window.start)} .. {report.zone.iso(report.window.end)} "
        f"({spec.rolling_date}, {report.zone.label}), by {spec.group_by}, interval {spec.interval}; "
        f"{report.table.num_rows} rows.",
        "",
        "| total | value |",
        "|---|---:|",
        *(f"| {total.label} | {format_value(total.value, total.kind)} |" for total in totals(report)),
        "",
        "| file | format | bytes |",
        "|---|---|---:|",
        *(f"| [{Path(f.path).name}]({_link(f.path)}) | {f.format} | {f.bytes:,} |" for f in written),
    ]
    create_markdown_artifact("\n".join(lines), key=f"{key}-summary", description=report.title)
    for file in written:
        create_link_artifact(
            _link(file.path),
            link_text=Path(file.path).name,
            key=artifact_key(key, file.format),
            description=report.title,
        )


@flow(name="ziwo-report")
def report(
    credentials_block: str | None = None,
    report: ReportName = "agent-performance",
    rolling_date: RollingDate | LastNDays = "yesterday",
    start: date | None = None,
    end: date | None = None,
    timezone: str = "UTC",
    group_by: GroupBy | None = None,
    interval: Interval = "none",
    filters: ReportFilters | None = None,
    settings: MetricSettings | None = None,
    files: FileOptions | None = None,
    ingest_first: bool = True,
    as_of: datetime | None = None,
    db_path: str = str(DEFAULT_DB),
) -> list[dict[str, Any]]:
    """Ingest (incremental), compute the report of the instance, write its files, publish artifacts.

    Credentials come from the named Ziwo Credentials block, or from ZIWO_* environment variables;
    `ingest_first` off reports on the warehouse as it is.
    """
    redaction.install()
    logger = get_run_logger()
    instance = instance_settings(credentials_block)
    spec = make_spec(
        report=report,
        instance=instance.instance,
        rolling_date=rolling_date,
        start=start,
        end=end,
        timezone=timezone,
        group_by=group_by,
        interval=interval,
        filters=filters or ReportFilters(),
        settings=settings or MetricSettings(),
        as_of=as_of,
    )
    if ingest_first:
        ingest(credentials_block=credentials_block, db_path=db_path)
    # The slot only around the reading: the ingest subflow takes it for itself, and holding it
    # across the subflow would leave that waiting for its own parent.
    with warehouse_slot(db_path):
        computed = compute(db_path, spec)
    written = write_files(computed, files or FileOptions())
    publish(computed, written)
    for file in written:
        logger.info("wrote %s (%s, %s bytes)", file.path, file.format, f"{file.bytes:,}")
    return [json.loads(file.model_dump_json()) for file in written]


if __name__ == "__main__":
    report()
